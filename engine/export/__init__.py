"""The reader's own work as DICOM: measurements as a Grayscale Softcopy Presentation State and as a TID 1500
measurement report (Comprehensive 3D SR), key images as a Key Object Selection document, each with a reader
that brings it back (the round-trip tests), and dciodvfy validation."""
