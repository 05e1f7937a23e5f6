"""Privacy of data subjects: pseudonyms, re-identification, the access report, the read audit.

One package, one vocabulary (docs/privacy.md):

- **data subject**: a person the data is about; mostly a resident, known by a BSN, but LDV also
  names employees and others by a typed id. The platform stores no BSN.
- **pseudonym**: `rp_` + base32(HMAC-SHA256(key, kind + ":" + id))[:32], keyed by the
  `pseudonym_key` secret (`pseudonyms`). The same data subject gets the same pseudonym, so
  detection can correlate; without the key it cannot be reversed.
- **re-identification**: confirming, for a stated purpose and after two approvals, that a BSN
  looked up elsewhere is the data subject behind a pseudonym (`reidentification`). Verification,
  never a pseudonym→BSN vault.
- **read audit**: every read of personal data is an audit entry `data.read` naming the data
  subjects' pseudonyms in `details["subject_pseudonyms"]` (`read_audit`).
- **access report**: "who viewed my data" for one data subject, from the read audit, the
  municipal application logs and LDV records (`access_report`); `bsn` is the DPO's entry point.

The public names are the `__all__` of `core.privacy.service`. Input this package rejects raises
`PrivacyError` (`core.privacy.errors`), naming the field and never quoting the value.
"""
