"""Read the image header of a JPEG, JPEG-LS (SOF marker) or JPEG 2000 (SIZ marker) codestream without
decoding it.

GDCM aborts the whole process (an uncaught C++ exception) when a codestream disagrees with the DICOM
header in some ways; :mod:`engine.dicom.codecs` compares the two with :func:`frame_header` first.
"""

from __future__ import annotations

from dataclasses import dataclass

# Start-of-frame markers: JPEG processes (ISO 10918-1, B.1.1.3) and JPEG-LS (SOF55, ISO 14495-1).
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF, 0xF7})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})  # TEM, RSTn, SOI: no length field
_START_OF_SCAN = 0xDA
_J2K_SIZ = b"\xff\x4f\xff\x51"  # SOC then SIZ, at the start of a JPEG 2000 codestream


@dataclass(frozen=True)
class FrameHeader:
    """What a JPEG frame header says about the image."""

    precision: int
    rows: int
    columns: int
    components: int


def frame_header(data: bytes) -> FrameHeader | None:
    """The image header of ``data``; None when it is not a JPEG / JPEG-LS / JPEG 2000 codestream or its header
    is missing (a JP2 file's codestream is found inside its boxes)."""
    at = data.find(_J2K_SIZ, 0, 4096)
    if at >= 0:
        return _j2k_header(data, at + 4)
    if data[:2] != b"\xff\xd8":
        return None
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _STANDALONE:
            at += 2
            continue
        if marker == _START_OF_SCAN:
            return None
        if marker in _SOF_MARKERS:
            if at + 10 > len(data):
                return None
            body = data[at + 4 : at + 10]
            return FrameHeader(
                precision=body[0],
                rows=int.from_bytes(body[1:3], "big"),
                columns=int.from_bytes(body[3:5], "big"),
                components=body[5],
            )
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return None


def _j2k_header(data: bytes, at: int) -> FrameHeader | None:
    """Image size, components and the first component's precision from the SIZ marker segment at ``at``."""
    if at + 41 > len(data):
        return None
    x_size, y_size, x_offset, y_offset = (int.from_bytes(data[at + i : at + i + 4], "big") for i in (4, 8, 12, 16))
    components = int.from_bytes(data[at + 36 : at + 38], "big")
    return FrameHeader(
        precision=(data[at + 38] & 0x7F) + 1,
        rows=y_size - y_offset,
        columns=x_size - x_offset,
        components=components,
    )
