"""Personal-data breach workflow for the DPO: register, assessment, clocks, reports and letters.

GDPR Art. 33/34 and NIS2/Cbw Art. 23 obligations in one place, so the legal deadlines of one
incident are visible together. A bounded context inside `playbooks/`: everyone outside calls
`service.py` (the facade; its `__all__` is the public surface), which re-exports from the
internal sub-modules (register, assessment, clocks, reports, ap_notification, nis2, letters,
export, processing_register, exercises). The AP and NIS2/Cbw forms are data in `forms/`.
"""
