"""Which pixel decoder pydicom uses for each transfer syntax, and decoding one frame with that order.

Decoder preference (first that succeeds wins; every one has a permissive licence, pylibjpeg-libjpeg
(GPLv3) is never used):

- JPEG baseline / extended / lossless (ISO 10918): GDCM first, because SimpleITK decodes with GDCM and
  lossy JPEG decoders may differ by one grey level; Pillow (libjpeg-turbo) as the last resort for 8-bit.
  pydicom's own GDCM plugin refuses 12-bit JPEG Extended (older GDCM builds got it wrong); python-gdcm
  3.2.6 decodes it correctly (identical to SimpleITK), so this module registers itself as the
  ``sightline-gdcm`` plugin for that transfer syntax. GDCM prints "Unsupported JPEG data precision 12"
  on stderr before it retries with its 12-bit decoder; the result is correct.
- JPEG-LS: pyjpegls, then GDCM (CharLS inside both, so the values are SimpleITK's); GDCM second because it
  aborts the process on a codestream larger than the header's image.
- JPEG 2000: pylibjpeg-openjpeg, then GDCM (OpenJPEG inside both). Pillow is not used: it cannot decode
  YBR_RCT colour.
- RLE lossless: pylibjpeg-rle, then pydicom's pure-Python decoder.
- Uncompressed, deflated and big-endian data: pydicom's native handler.

Untrusted input: GDCM throws C++ exceptions that abort the process when a codestream disagrees with the DICOM
header (size, components, BitsAllocated other than 8 or 16, BitsStored below an 8-bit BitsAllocated, a
photometric interpretation with another number of samples), so GDCM only gets a frame whose JPEG / JPEG-LS /
JPEG 2000 header (:mod:`engine.dicom.jpeg_header`) agrees with a DICOM header free of those contradictions, and
decodes it in a worker process (:mod:`engine.dicom.sandbox`): a damaged entropy-coded stream can still
abort GDCM, and then only that process ends. pylibjpeg-rle
raises a Rust panic (a BaseException) on short segments; it is caught like any decoder failure.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
from pydicom import uid
from pydicom.dataset import Dataset
from pydicom.encaps import get_frame
from pydicom.pixels import get_decoder, pixel_array

from engine.dicom.errors import PlainError
from engine.dicom.jpeg_header import frame_header
from engine.dicom.sandbox import decode_isolated

if TYPE_CHECKING:
    from pydicom.pixels.decoders.base import DecodeRunner

GDCM_12BIT_PLUGIN = "sightline-gdcm"

_JPEG_8BIT = ("gdcm", "pillow")
PLUGIN_PREFERENCE: dict[str, tuple[str, ...]] = {
    uid.JPEGBaseline8Bit: _JPEG_8BIT,
    uid.JPEGExtended12Bit: (GDCM_12BIT_PLUGIN, "gdcm", "pillow"),
    uid.JPEGLossless: ("gdcm",),
    uid.JPEGLosslessSV1: ("gdcm",),
    uid.JPEGLSLossless: ("pyjpegls", "gdcm"),
    uid.JPEGLSNearLossless: ("pyjpegls", "gdcm"),
    uid.JPEG2000Lossless: ("pylibjpeg", "gdcm"),
    uid.JPEG2000: ("pylibjpeg", "gdcm"),
    uid.RLELossless: ("pylibjpeg", "pydicom"),
}

# Required by pydicom's plugin interface (Decoder.add_plugin).
DECODER_DEPENDENCIES = {uid.JPEGExtended12Bit: ("gdcm>=3.0.10",)}
# Decoders that abort the process on some codestreams that disagree with the header (see the module doc).
_ABORTING_PLUGINS = frozenset({"gdcm", GDCM_12BIT_PLUGIN})
_CHECKED_SYNTAXES = frozenset(
    {
        uid.JPEGBaseline8Bit,
        uid.JPEGExtended12Bit,
        uid.JPEGLossless,
        uid.JPEGLosslessSV1,
        uid.JPEGLSLossless,
        uid.JPEGLSNearLossless,
        uid.JPEG2000Lossless,
        uid.JPEG2000,
    }
)
_ONE_SAMPLE = ("MONOCHROME1", "MONOCHROME2", "PALETTE COLOR")
_log = logging.getLogger(__name__)


class DecodeError(PlainError, RuntimeError):
    """No configured decoder could decode a frame."""


def is_available(transfer_syntax: str) -> bool:
    """pydicom plugin interface: True when python-gdcm is importable for a supported syntax."""
    try:
        import gdcm  # noqa: F401
    except ImportError:
        return False
    return transfer_syntax in DECODER_DEPENDENCIES


def decode_gdcm_jpeg_extended(src: bytes, runner: DecodeRunner) -> bytes:
    """pydicom plugin: decode one JPEG Extended (8- or 12-bit) frame with python-gdcm."""
    import gdcm

    fragment = gdcm.Fragment()
    fragment.SetByteStringValue(src)
    fragments = gdcm.SequenceOfFragments.New()
    fragments.AddFragment(fragment)
    element = gdcm.DataElement(gdcm.Tag(0x7FE0, 0x0010))
    element.SetValue(fragments.__ref__())

    image = gdcm.Image()
    image.SetNumberOfDimensions(2)
    image.SetDimensions((runner.columns, runner.rows, 1))
    image.SetDataElement(element)
    photometric = gdcm.PhotometricInterpretation.GetPIType(runner.photometric_interpretation)
    image.SetPhotometricInterpretation(gdcm.PhotometricInterpretation(photometric))
    if runner.samples_per_pixel > 1:
        image.SetPlanarConfiguration(runner.planar_configuration)
    image.SetTransferSyntax(gdcm.TransferSyntax(gdcm.TransferSyntax.GetTSType(str(runner.transfer_syntax))))
    bits_stored = runner.bits_stored
    image.SetPixelFormat(
        gdcm.PixelFormat(
            runner.samples_per_pixel,
            runner.bits_allocated,
            bits_stored,
            bits_stored - 1,
            runner.pixel_representation,
        )
    )
    # python-gdcm returns the buffer as a str holding raw bytes.
    return image.GetBuffer().encode("utf-8", "surrogateescape")


def configure_decoders() -> None:
    """Register the 12-bit GDCM plugin with pydicom (idempotent)."""
    decoder = get_decoder(uid.JPEGExtended12Bit)
    if GDCM_12BIT_PLUGIN not in decoder.available_plugins and is_available(uid.JPEGExtended12Bit):
        decoder.add_plugin(GDCM_12BIT_PLUGIN, (__name__, "decode_gdcm_jpeg_extended"))


def plugins_for(transfer_syntax: str) -> tuple[str, ...]:
    """The installed decoders for ``transfer_syntax`` in preference order ("" = pydicom's native handler)."""
    preferred = PLUGIN_PREFERENCE.get(transfer_syntax)
    if preferred is None:
        return ("",)
    available = get_decoder(uid.UID(transfer_syntax)).available_plugins
    return tuple(name for name in preferred if name in available)


def decode_frame(ds: Dataset, index: int | None = None) -> np.ndarray:
    """Stored values of frame ``index`` (all frames when None), colour converted to RGB as GDCM does.

    Unused high bits are masked / sign-extended (pydicom's ``correct_unused_bits``); no rescale is applied.
    """
    transfer_syntax = ds.file_meta.TransferSyntaxUID
    name = uid.UID(transfer_syntax).name
    plugins = plugins_for(transfer_syntax)
    if not plugins:
        raise DecodeError(f"no decoder for its compression ({name}) is installed")
    failures = []
    for plugin in plugins:
        frame = _frame_bytes(ds, index) if plugin in _ABORTING_PLUGINS else None
        if plugin in _ABORTING_PLUGINS and not (frame and _safe_for_gdcm(ds, transfer_syntax, frame)):
            failures.append(f"{plugin}: not tried, the codestream disagrees with the header")
            continue
        try:
            if frame is not None:
                return decode_isolated(ds, frame, plugin)
            return pixel_array(ds, index=index, decoding_plugin=plugin)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - each plugin raises its own types, a Rust panic included
            failures.append(f"{plugin or 'pydicom'}: {type(exc).__name__}: {exc}")
    _log.info("no decoder read %s data: %s", name, "; ".join(failures))
    raise DecodeError(
        f"its {name} pixel data is damaged or does not match the image size in the header: "
        f"no decoder could read it (tried {', '.join(p or 'pydicom' for p in plugins)})"
    )


def _frame_bytes(ds: Dataset, index: int | None) -> bytes | None:
    """The encapsulated bytes of frame ``index`` (None: the only frame), or None when they cannot be found."""
    try:
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        return get_frame(ds.PixelData, index or 0, number_of_frames=frames)
    except Exception:  # noqa: BLE001 - damaged encapsulation: no frame for GDCM
        return None


def _safe_for_gdcm(ds: Dataset, transfer_syntax: str, frame: bytes) -> bool:
    """True when GDCM may be given the frame: its codestream header matches the DICOM header (rows, columns,
    components, a precision within BitsAllocated), BitsAllocated is 8 or 16 (BitsStored 8 when 8), and the
    photometric interpretation has as many samples as SamplesPerPixel."""
    if transfer_syntax not in _CHECKED_SYNTAXES:
        return True
    try:
        photometric = str(ds.get("PhotometricInterpretation", "")).strip()
        header = frame_header(frame[:65536])
        rows, columns = int(ds.Rows), int(ds.Columns)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        allocated = int(ds.BitsAllocated)
        stored = int(ds.get("BitsStored", allocated) or allocated)
    except Exception:  # noqa: BLE001 - a header whose values are not numbers is not given to GDCM
        return False
    return (
        header is not None
        and (header.rows, header.columns, header.components) == (rows, columns, samples)
        and header.precision <= allocated
        and allocated in (8, 16)
        and (allocated != 8 or stored == 8)
        and (samples == 1) == (photometric in _ONE_SAMPLE)
    )


configure_decoders()
