"""VALOR's label elaboration (Lai et al., NeurIPS 2023; Franklin905/VALOR utils/clip_preprocess.py and
clap_preprocess.py): zero-shot segment logits of a pretrained CLIP / CLAP against one caption per class,
thresholded per class and kept only for the clip's weak (video-level) labels.

    logits = clip_segment_logits(model, tokenizer, images)     # (10, 25) logit_scale * cos(image, caption)
    labels = segment_pseudo_labels(logits, weak, CLIP_THRESHOLDS)   # (10, 25) int64 0/1

The captions and thresholds are VALOR's, verbatim (its spelling "vaccum" and "guiter" included: the
thresholds were tuned with those captions).
"""

from __future__ import annotations

import numpy as np

from mmcse.classes import NUM_CLASSES

CLIP_CAPTIONS = (
    "A photo of people talking.", "A photo of a car.", "A photo of people cheering.", "A photo of a dog.",
    "A photo of a cat.", "A photo of frying food.", "A photo of people playing basketball.",
    "A photo of a fire alarm.", "A photo of a chainsaw.", "A photo of a cello.", "A photo of a banjo.",
    "A photo of people singing.", "A photo of a chicken or a rooster.", "A photo of a violin.",
    "A photo of a vaccum cleaner.", "A photo of a laughing baby.", "A photo of an accordion.",
    "A photo of a lawnmower.", "A photo of a motorcycle.", "A photo of a helicopter.",
    "A photo of a acoustic guiter.", "A photo of a ringing telephone.", "A photo of a crying baby.",
    "A photo of a blender.", "A photo of hands clapping.",
)  # fmt: skip
CLIP_THRESHOLDS = np.array([20, 15, 18, 14, 15, 18, 18, 15, 15, 15, 15, 18, 15, 15, 15, 15, 15, 15, 15, 16,
                            14, 15, 15, 15, 18], dtype=np.float32)  # fmt: skip
CLAP_CAPTIONS = tuple(
    "This is a sound of " + t.lower()
    for t in ("Speech", "Car", "Cheering", "Dog", "Cat", "Frying (food)", "Basketball bounce", "Fire alarm",
              "Chainsaw", "Cello", "Banjo", "Singing", "Chicken, rooster", "Violin fiddle", "Vacuum cleaner",
              "Baby laughter", "Accordion", "Lawn mower", "Motorcycle", "Helicopter", "Acoustic guitar",
              "Telephone bell ringing", "Baby cry, infant cry", "Blender", "Clapping")
)  # fmt: skip
CLAP_THRESHOLDS = np.array([0, 0, 1, 4, 6, -2, 4, 4, 2, 2, 2, 1, 2, 3, 0, 2, 2, 2, 0, 2, -1, 2, 3, 3, 0],
                           dtype=np.float32)  # fmt: skip
assert len(CLIP_CAPTIONS) == len(CLAP_CAPTIONS) == NUM_CLASSES


def segment_pseudo_labels(logits: np.ndarray, weak: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """(10, 25) logits, (25,) 0/1 weak labels, (25,) thresholds -> (10, 25) int64: 1 where the class is
    among the clip's weak labels and its logit is strictly above the class's threshold."""
    above = np.asarray(logits) > np.asarray(thresholds)[None, :]
    return (above & (np.asarray(weak)[None, :] > 0)).astype(np.int64)


def clip_text_embeddings(model, tokenizer, captions=CLIP_CAPTIONS):
    """(25, D) L2-normalised CLIP text embeddings of the captions (padded as one batch, as VALOR)."""
    import torch

    tokens = tokenizer(list(captions), padding=True, return_tensors="pt")
    device = next(model.parameters()).device
    with torch.inference_mode():
        pooled = model.text_model(input_ids=tokens["input_ids"].to(device),
                                  attention_mask=tokens["attention_mask"].to(device)).pooler_output  # fmt: skip
        feats = model.text_projection(pooled)
    return feats / feats.norm(p=2, dim=-1, keepdim=True)


def clip_segment_logits(model, image_embeds, text_embeds) -> np.ndarray:
    """(10, D) and (25, D) L2-normalised embeddings -> (10, 25) logits_per_image (logit_scale.exp() x cos)."""
    import torch

    with torch.inference_mode():
        return (model.logit_scale.exp() * image_embeds @ text_embeds.T).float().cpu().numpy()
