"""Class mappings as data: fine classes merged into coarse groups (Kinetics10, moving digits).

Kinetics10 (paper Table 3) merges 66 Kinetics classes into 10 groups (Kinetics-600 names: 10 of them are not in
Kinetics-400, see :mod:`sdas_lib.data.kinetics`); the embedded moving
digits merge their fine motion classes into 10 coarse ones the same way. Both are stored in one
format, a CSV file with the header ``coarse,fine`` and one row per fine class:

    coarse,fine
    arts and crafts,arranging flowers
    arts and crafts,blowing glass
    ...

The coarse classes are numbered in the order they first appear, and so are the fine classes inside
each group (the order of Table 3). A fine class belongs to exactly one group.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import SdasError
from ..files import atomic_write_text

HEADER = ("coarse", "fine")


@dataclass(frozen=True)
class ClassMapping:
    """Coarse groups of fine classes, in order. ``groups[i] = (coarse name, (fine names...))``."""

    groups: tuple[tuple[str, tuple[str, ...]], ...]

    def __post_init__(self):
        seen: dict[str, str] = {}
        coarse_names = [c for c, _ in self.groups]
        if len(set(coarse_names)) != len(coarse_names):
            dup = sorted({c for c in coarse_names if coarse_names.count(c) > 1})
            raise SdasError(f"class mapping: coarse class(es) {dup} appear as more than one group; merge their rows")
        for coarse, fines in self.groups:
            if not coarse or not fines:
                raise SdasError(f"class mapping: group {coarse!r} needs a name and at least one fine class")
            for f in fines:
                if f in seen:
                    raise SdasError(f"class mapping: fine class {f!r} is in both {seen[f]!r} and {coarse!r}; keep it in one group")
                seen[f] = coarse

    @property
    def coarse(self) -> tuple[str, ...]:
        """Coarse class names; the label of a coarse class is its index here."""
        return tuple(c for c, _ in self.groups)

    @property
    def fine(self) -> tuple[str, ...]:
        """Fine class names, group by group; the label of a fine class is its index here."""
        return tuple(f for _, fines in self.groups for f in fines)

    @property
    def group_sizes(self) -> tuple[int, ...]:
        return tuple(len(f) for _, f in self.groups)

    def coarse_of(self, fine: str) -> str:
        """The group of fine class ``fine``."""
        for coarse, fines in self.groups:
            if fine in fines:
                return coarse
        raise SdasError(f"class mapping: {fine!r} is not a fine class of this mapping")

    def coarse_label(self, fine_label: int) -> int:
        """Coarse label (index in :attr:`coarse`) of a fine label (index in :attr:`fine`)."""
        return self.coarse.index(self.coarse_of(self.fine[fine_label]))

    def fine_to_coarse(self) -> list[int]:
        """Coarse label of each fine label, as a list indexed by fine label."""
        return [self.coarse_label(i) for i in range(len(self.fine))]

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(HEADER)
        for coarse, fines in self.groups:
            for f in fines:
                w.writerow((coarse, f))
        return buf.getvalue()

    def save(self, path: str | os.PathLike) -> None:
        atomic_write_text(Path(path), self.to_csv())

    @classmethod
    def from_pairs(cls, pairs) -> "ClassMapping":
        """From (coarse, fine) pairs in order."""
        groups: dict[str, list[str]] = {}
        for coarse, fine in pairs:
            groups.setdefault(coarse, []).append(fine)
        return cls(tuple((c, tuple(f)) for c, f in groups.items()))

    @classmethod
    def parse(cls, text: str, where: str = "class mapping") -> "ClassMapping":
        rows = list(csv.reader(io.StringIO(text)))
        if not rows or tuple(h.strip() for h in rows[0]) != HEADER:
            raise SdasError(f"{where}: the first line must be the header 'coarse,fine'")
        pairs = []
        for n, row in enumerate(rows[1:], start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != 2:
                raise SdasError(f"{where}, line {n}: expected 2 columns (coarse,fine), got {len(row)}")
            pairs.append((row[0].strip(), row[1].strip()))
        if not pairs:
            raise SdasError(f"{where}: no classes; add rows 'coarse,fine' after the header")
        return cls.from_pairs(pairs)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ClassMapping":
        path = Path(path)
        if not path.is_file():
            raise SdasError(f"class mapping file {path} not found")
        return cls.parse(path.read_text(encoding="utf-8"), where=str(path))


__all__ = ["ClassMapping", "HEADER"]
