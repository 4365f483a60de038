"""Consent withdrawal: ``cartwh erase --centre C --patient ID``.

* :mod:`.exclusions` - the exclusion list ``restricted.erased_patients`` and the filter that
  withholds an erased patient's rows at the door of every later load;
* :mod:`.erase` - the erasure itself: every raw row of the patient (all deliveries), the
  patient's rows in every other table, the ledger's counts, the audit ``history.erasures``;
* :mod:`.rewrite` - the warehouse file rewritten so that deleted values leave its free blocks;
* :mod:`.residue` - the files beside the warehouse (outputs, work folder, Dagster home) searched
  for the patient's identifiers after the rebuild, and cleaned.
"""
