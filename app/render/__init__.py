"""VTK adapters: turn engine images and viewer-model layers into pixels (reslices, volume rendering)."""
