"""Threat intelligence: indicators from MISP and STIX feeds, warninglists, decay, matching on
ingest, retro-hunts over the event store, and sharing an incident's observables back."""
