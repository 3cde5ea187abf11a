"""Model development for the default filter models: real images and realistic renders in the loop.
Nothing here runs in a filter run (the runtime is `rocov2_fast.filter`).

- `train` (`rocov2-fast train-filter`): train one filter's CNN and export it to ONNX.
- `real_images` (`python -m rocov2_fast.modeldev.real_images`): matplotlib's sample data and figures
  rendered from it, scored by the default models.

- `real`: the real images this machine has without downloading anything (the CC BY chest radiographs
  in `../shared/data/real-figures`, the DICOM test files of `pydicom-data` / `pydicom` rendered to
  8 bits, the sample images of scikit-image and matplotlib, slices of the real MR volumes nibabel
  ships; second round: dipy / nilearn MR volumes, PyWavelets and scikit-learn photos, sunpy solar
  images, astropy's M13), each with its source, kind, credit, a group (the source image) and a split
  family for splitting.
- `render`: figures made with the libraries that make the real thing (matplotlib / seaborn charts,
  graphviz or matplotlib flow diagrams, RDKit structures, tables, text, gels, annotated slices).
- `compose`: compound figures the way journals build them (2–9 panels, gutters, letters, mosaics,
  insets).
- `dataset`: the deterministic mix, the FIXED test split (by source image: never in training), the
  per-source / per-kind evaluation and the threshold choice.
- `head` (`python -m rocov2_fast.modeldev.head`): stage 3 of the default models: the stage-2 network
  frozen as a feature extractor + in-graph layout features (gutters, straight edges, repetition) and a
  logistic head fitted on the mix and the synthetic corpus; exported as one ONNX graph.
- `measure` (`python -m rocov2_fast.modeldev.measure`): the shipped ONNX files on the committed test
  fixture, as the filter runs them; writes models/real_test_report.json and the ONNX metadata.

Everything is generated from a seed; nothing is downloaded at run time.
"""
