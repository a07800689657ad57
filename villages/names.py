"""The display name of a village-level unit: the one rule every page, PDF, label and map uses.

The statistics bureau names a village by its committee: 刘庄村民委员会 is the village 刘庄,
凤凰村村民委员会 the village 凤凰村, 金山社区居民委员会 the community 金山社区; a county's own
list writes 凤凰村, 凤凰村委会 or 凤凰村民委员会 for the same place. Dropping the committee and
appending 村 blindly printed 凤凰村村 — for 383 of 三台县's 462 units, whose 2023 names all end
in 村村民委员会 — so the marker (村, 社区) is added only where the stem does not end with it.

A 居民委员会 whose stem is not a 社区 (人民路居民委员会, 城关居民委员会: 2 % of them in 四川's
2023 list, 12 % in 山东's) prints as 人民路社区: since the community reform a 居委会 is the
committee of a 社区 and that is how offices write it; the bare stem (人民路) reads as a road.

Only the committee is dropped: 大村村村民委员会 is the village 大村村 and prints so.
"""

from __future__ import annotations

# (suffix, marker the short name must end with), longest suffix first. Besides the standard
# forms, the spellings the 2023 lists of 山东 and 四川 really contain (村民委会, 村委员会, 社区居民
# 居委会, 社区委员会, 居委员会, 社区居委) and the clipped 村委/居委 of county spreadsheets, so none
# of them leaves a fragment of its committee on a label.
_COMMITTEES: tuple[tuple[str, str], ...] = (
    ("居民居民委员会", "社区"),
    ("居民居委会", "社区"),
    ("村民委员会", "村"),
    ("居民委员会", "社区"),
    ("社区委员会", "社区"),
    ("村民委会", "村"),
    ("村委员会", "村"),
    ("村民委员", "村"),
    ("居民委员", "社区"),
    ("居民委会", "社区"),
    ("居委员会", "社区"),
    ("村委会", "村"),
    ("居委会", "社区"),
    ("村委", "村"),
    ("居委", "社区"),
)


def short_name(name: str) -> str:
    """刘庄村民委员会 → 刘庄村; 凤凰村村民委员会, 凤凰村委会, 凤凰村 → 凤凰村;
    金山社区居民委员会, 金山社区居委会 → 金山社区; 城关居民委员会 → 城关社区.

    A name without a committee (凤凰村, a natural village 王庄) is kept as it is, so the rule is
    idempotent. A name that is nothing but a committee is kept whole rather than emptied.
    """
    name = name.strip()
    for suffix, marker in _COMMITTEES:
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            if not stem:
                return name
            return stem if stem.endswith(marker) else stem + marker
    return name
