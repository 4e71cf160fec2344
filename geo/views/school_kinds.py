"""Which kind of school each GIAS establishment is: the one classification the map's point layers
and the targeting lists (:mod:`geo.views.targeting`) both use.

``school_type(schools)`` gives one key of ``TYPES`` per row of a schools frame
(``store.points("schools")``: ``phase``, ``establishment_type`` and ``establishment_type_group`` from
GIAS); ``school_kind(schools)`` the map layer it is drawn in (``KINDS``):

``primary``      state-funded primary: a local-authority maintained school, academy or free school
                 whose phase is Primary or Middle deemed primary (map: primary)
``secondary``    state-funded secondary: the same groups with phase Secondary or Middle deemed
                 secondary (map: secondary)
``all-through``  state-funded all-through: listed as primary and as secondary (map: secondary)
``post-16``      state-funded 16 to 19 schools and academies (phase 16 plus; map: secondary)
``special``      special schools that are not independent: community and foundation special
                 schools, special academies and free schools, non-maintained special schools
                 (map: special)
``alternative-provision``  pupil referral units and alternative provision academies (map: other)
``nursery``      local authority nursery schools (map: other)
``independent``  independent schools, independent special schools among them (map: other)
``colleges``     FE colleges and sixth-form centres (map: other)
``other-schools``  everything else: universities, secure units, schools whose type GIAS does not
                 give (map: other); a frame without the type columns is all ``other-schools``: state
                 funding is not known, so nothing is called state-funded
"""
from __future__ import annotations

import numpy as np
import pandas as pd

TYPES = {
    "primary": "state-funded primary school", "secondary": "state-funded secondary school",
    "all-through": "state-funded all-through school", "post-16": "state-funded 16 to 19 school",
    "special": "special school (state-funded or non-maintained)",
    "alternative-provision": "alternative provision (pupil referral unit or AP academy)",
    "nursery": "local authority nursery school", "independent": "independent school",
    "colleges": "further education college", "other-schools": "other establishment",
}
KINDS = {"primary": "Primary schools (state-funded)", "secondary": "Secondary schools (state-funded)",
         "special": "Special schools (state-funded)",
         "other": "Other schools and colleges"}
MAP_KIND = {"primary": "primary", "secondary": "secondary", "all-through": "secondary", "post-16": "secondary",
            "special": "special"}  # every other type: "other"
STATE_FUNDED_GROUPS = ("Local authority maintained schools", "Academies", "Free Schools", "Special schools")
PRIMARY_PHASES = ("Primary", "Middle deemed primary")
SECONDARY_PHASES = ("Secondary", "Middle deemed secondary")


def school_type(schools: pd.DataFrame) -> pd.Series:
    """One of ``TYPES``' keys per school (see the module docstring), on the frame's index."""
    def column(name):
        return schools[name].astype("string").fillna("") if name in schools else pd.Series("", index=schools.index)

    phase, group, kind = column("phase"), column("establishment_type_group"), column("establishment_type")
    lowered = kind.str.lower()
    independent = (lowered.str.contains("independent") | (group == "Independent schools")).to_numpy()
    state = group.isin(STATE_FUNDED_GROUPS).to_numpy() & ~independent
    special = state & (lowered.str.contains("special").to_numpy() | (group == "Special schools").to_numpy())
    alternative = state & (lowered.str.contains("alternative provision") | (kind == "Pupil referral unit")).to_numpy()
    out = np.select(
        [special, alternative, independent, (group == "Colleges").to_numpy(),
         state & phase.isin(PRIMARY_PHASES).to_numpy(), state & phase.isin(SECONDARY_PHASES).to_numpy(),
         state & (phase == "All-through").to_numpy(), state & (phase == "16 plus").to_numpy(),
         state & (phase == "Nursery").to_numpy()],
        ["special", "alternative-provision", "independent", "colleges", "primary", "secondary", "all-through",
         "post-16", "nursery"], "other-schools")
    return pd.Series(out, index=schools.index, dtype=object)


def school_kind(schools: pd.DataFrame) -> pd.Series:
    """The map layer of each school: one of ``KINDS``' keys (see the module docstring)."""
    return school_type(schools).map(lambda t: MAP_KIND.get(t, "other"))
