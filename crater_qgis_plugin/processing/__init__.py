"""The ``craterdetect`` Processing provider: detect, georeference THEMIS tiles, evaluate."""
