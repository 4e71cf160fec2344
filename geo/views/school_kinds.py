"""Which kind of school each GIAS establishment is, as the map's point layers show them.

``school_kind(schools)`` gives one key per row of a schools frame (``store.points("schools")``,
columns ``phase``, ``establishment_type`` and ``establishment_type_group`` from GIAS):

``primary``    state-funded primary: a local-authority maintained school, academy or free school
               whose phase is Primary or Middle deemed primary
``secondary``  state-funded secondary: the same groups with phase Secondary, Middle deemed
               secondary, All-through or 16 plus
``special``    state-funded special: a special school that is not independent (community and
               foundation special schools, special academies and free schools, non-maintained
               special schools)
``other``      everything else: independent schools (independent special schools among them),
               FE and sixth-form colleges, universities, nurseries, pupil referral units and other
               alternative provision, and schools whose phase GIAS does not give

The keys are in ``KINDS``, in the order the map lists them, with the name each layer takes.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

KINDS = {"primary": "Primary schools (state-funded)", "secondary": "Secondary schools (state-funded)",
         "special": "Special schools (state-funded)",
         "other": "Other schools and colleges"}
STATE_FUNDED_GROUPS = ("Local authority maintained schools", "Academies", "Free Schools", "Special schools")
PRIMARY_PHASES = ("Primary", "Middle deemed primary")
SECONDARY_PHASES = ("Secondary", "Middle deemed secondary", "All-through", "16 plus")


def school_kind(schools: pd.DataFrame) -> pd.Series:
    """One of ``KINDS``' keys per school (see the module docstring), on the frame's index."""
    def column(name):
        return schools[name].astype("string").fillna("") if name in schools else pd.Series("", index=schools.index)

    phase, group, kind = column("phase"), column("establishment_type_group"), column("establishment_type")
    lowered = kind.str.lower()
    independent = lowered.str.contains("independent") | (group == "Independent schools")
    state = group.isin(STATE_FUNDED_GROUPS).to_numpy() & ~independent.to_numpy()
    special = state & (lowered.str.contains("special").to_numpy() | (group == "Special schools").to_numpy())
    out = np.select([special, state & phase.isin(PRIMARY_PHASES).to_numpy(),
                     state & phase.isin(SECONDARY_PHASES).to_numpy()], ["special", "primary", "secondary"], "other")
    return pd.Series(out, index=schools.index, dtype=object)
