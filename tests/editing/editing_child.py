"""Child process of the crash-recovery tests: starts a journalled editing session on a label map and edits
it in a loop, printing the number of each finished edit, until it is killed.

Usage: python editing_child.py KEY BASE_NPZ
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.editing.brush import Brush, erase, paint  # noqa: E402
from engine.editing.codec import label_map_from_npz  # noqa: E402
from engine.editing.islands import remove_small_islands  # noqa: E402
from engine.editing.session import EditSession  # noqa: E402

EDITS = 100_000


def scripted_edit(session: EditSession, i: int) -> None:
    """Edit number ``i`` (deterministic): mostly 3-point brush strokes, some erasing, undo and islands."""
    shape = session.label_map.array.shape
    if i % 11 == 10:
        session.undo()
        return
    if i % 13 == 12:
        session.do("Remove small islands", partial(remove_small_islands, min_voxels=4))
        return
    brush = Brush(1.5 + (i % 3))
    z, y, x = i % shape[0], (5 * i) % shape[1], (3 * i) % shape[2]
    step_mm = brush.stroke_step_mm(session.label_map.geometry)
    if i % 5 == 4:
        session.begin_stroke("Eraser", partial(erase, brush=brush), step_mm)
    else:
        session.begin_stroke("Brush", partial(paint, brush=brush, value=1 + i % 2), step_mm)
    for step in range(3):
        session.add_point((z, (y + 2 * step) % shape[1], (x + 3 * step) % shape[2]))
    session.end_stroke()


def main(key: str, base: Path) -> None:
    label_map, _ = label_map_from_npz(base.read_bytes())
    session = EditSession.start(key, label_map, description="crash test")
    print("started", flush=True)
    for i in range(EDITS):
        scripted_edit(session, i)
        print(i + 1, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
