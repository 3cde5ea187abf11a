"""The ROCOv2 paper's baselines (needs the `baselines` extra: torch, timm, transformers):
concept detection with an EfficientNet (concepts.py) and caption prediction with a ViT encoder and
a GPT-2-style decoder (captions.py), on any dataset table (data.py)."""
