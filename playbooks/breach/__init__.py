"""Personal-data breach workflow for the DPO: register, assessment, clocks, reports and letters.

GDPR Art. 33/34 and NIS2/Cbw Art. 23 obligations in one place, so the legal deadlines of one
incident are visible together. Service functions live in the sub-modules (register, assessment,
clocks, ap_notification, nis2, letters, export, processing_register); the dashboard and the CLI
call them with a session and a clock.
"""
