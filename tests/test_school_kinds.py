"""Which kind of school each GIAS establishment is (geo/views/school_kinds.py), on rows shaped as
GIAS publishes them (phase, type and type group names as in the open establishments file)."""
import pandas as pd

from geo.views.school_kinds import KINDS, school_kind

ROWS = [  # phase, establishment type, type group, expected kind
    ("Primary", "Community school", "Local authority maintained schools", "primary"),
    ("Middle deemed primary", "Voluntary aided school", "Local authority maintained schools", "primary"),
    ("Primary", "Academy converter", "Academies", "primary"),
    ("Primary", "Free schools", "Free Schools", "primary"),
    ("Secondary", "Academy sponsor led", "Academies", "secondary"),
    ("Middle deemed secondary", "Foundation school", "Local authority maintained schools", "secondary"),
    ("All-through", "Free schools", "Free Schools", "secondary"),
    ("16 plus", "Free schools 16 to 19", "Free Schools", "secondary"),
    ("Not applicable", "Community special school", "Special schools", "special"),
    ("Not applicable", "Foundation special school", "Special schools", "special"),
    ("Not applicable", "Non-maintained special school", "Special schools", "special"),
    ("Not applicable", "Academy special converter", "Academies", "special"),
    ("Not applicable", "Free schools special", "Free Schools", "special"),
    ("Not applicable", "Other independent special school", "Special schools", "other"),  # independent
    ("Not applicable", "Other independent school", "Independent schools", "other"),
    ("Primary", "Other independent school", "Independent schools", "other"),  # an independent prep school
    ("16 plus", "Further education", "Colleges", "other"),
    ("16 plus", "Sixth form centres", "Colleges", "other"),
    ("Not applicable", "Higher education institutions", "Universities", "other"),
    ("Nursery", "Local authority nursery school", "Local authority maintained schools", "other"),
    ("Not applicable", "Pupil referral unit", "Local authority maintained schools", "other"),
    ("Not applicable", "Academy alternative provision converter", "Academies", "other"),
    (None, None, None, "other"),  # nothing known
]


def test_each_gias_establishment_gets_its_kind():
    frame = pd.DataFrame([r[:3] for r in ROWS], columns=["phase", "establishment_type", "establishment_type_group"],
                         index=[f"s{i}" for i in range(len(ROWS))])
    kinds = school_kind(frame)
    assert list(kinds.index) == list(frame.index)
    wrong = [(r, k) for r, k in zip(ROWS, kinds) if r[3] != k]
    assert not wrong, wrong
    assert set(kinds) == set(KINDS)  # every kind the map shows is reachable


def test_a_frame_without_the_type_columns_is_all_other_but_its_phase():
    kinds = school_kind(pd.DataFrame({"phase": ["Primary", "Secondary"]}))
    assert list(kinds) == ["other", "other"]  # state funding is not known: never called state-funded
