"""Quality evaluation: forms in YAML (:mod:`~acd.features.quality.forms`), immutable grades
and the month's compliance against the contract's bonus targets (:mod:`~acd.features.quality.grades`)."""
