"""Which pixel decoder pydicom uses for each transfer syntax, and decoding one frame with that order.

Decoder preference (first that succeeds wins; every one has a permissive licence, pylibjpeg-libjpeg
(GPLv3) is never used):

- JPEG baseline / extended / lossless (ISO 10918): GDCM first, because SimpleITK decodes with GDCM and
  lossy JPEG decoders may differ by one grey level; Pillow (libjpeg-turbo) as the last resort for 8-bit.
  pydicom's own GDCM plugin refuses 12-bit JPEG Extended (older GDCM builds got it wrong); python-gdcm
  3.2.6 decodes it correctly (identical to SimpleITK), so this module registers itself as the
  ``sightline-gdcm`` plugin for that transfer syntax. GDCM prints "Unsupported JPEG data precision 12"
  on stderr before it retries with its 12-bit decoder; the result is correct.
- JPEG-LS: GDCM (CharLS inside, as in SimpleITK), then pyjpegls (CharLS).
- JPEG 2000: pylibjpeg-openjpeg, then GDCM (OpenJPEG inside both). Pillow is not used: it cannot decode
  YBR_RCT colour.
- RLE lossless: pylibjpeg-rle, then pydicom's pure-Python decoder.
- Uncompressed, deflated and big-endian data: pydicom's native handler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydicom import uid
from pydicom.dataset import Dataset
from pydicom.pixels import get_decoder, pixel_array

if TYPE_CHECKING:
    from pydicom.pixels.decoders.base import DecodeRunner

GDCM_12BIT_PLUGIN = "sightline-gdcm"

_JPEG_8BIT = ("gdcm", "pillow")
PLUGIN_PREFERENCE: dict[str, tuple[str, ...]] = {
    uid.JPEGBaseline8Bit: _JPEG_8BIT,
    uid.JPEGExtended12Bit: (GDCM_12BIT_PLUGIN, "gdcm", "pillow"),
    uid.JPEGLossless: ("gdcm",),
    uid.JPEGLosslessSV1: ("gdcm",),
    uid.JPEGLSLossless: ("gdcm", "pyjpegls"),
    uid.JPEGLSNearLossless: ("gdcm", "pyjpegls"),
    uid.JPEG2000Lossless: ("pylibjpeg", "gdcm"),
    uid.JPEG2000: ("pylibjpeg", "gdcm"),
    uid.RLELossless: ("pylibjpeg", "pydicom"),
}

# Required by pydicom's plugin interface (Decoder.add_plugin).
DECODER_DEPENDENCIES = {uid.JPEGExtended12Bit: ("gdcm>=3.0.10",)}


class DecodeError(RuntimeError):
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
    plugins = plugins_for(transfer_syntax)
    if not plugins:
        raise DecodeError(f"no decoder installed for {uid.UID(transfer_syntax).name}")
    failures = []
    for plugin in plugins:
        try:
            return pixel_array(ds, index=index, decoding_plugin=plugin)
        except Exception as exc:  # each plugin raises its own types; the next one may succeed
            failures.append(f"{plugin or 'pydicom'}: {exc}")
    raise DecodeError(f"cannot decode {uid.UID(transfer_syntax).name}: " + "; ".join(failures))


configure_decoders()
