"""Label-map correction: editing operations with compact diffs, undo/redo, crash recovery, original/final
versions with provenance, SEG/NIfTI export of accepted corrections, and the annotator worklist.

Qt-free: the viewer routes mouse events to :class:`engine.editing.session.EditSession` and its operations.
Submodules are imported where used (``from engine.editing.brush import Brush, paint``).
"""
