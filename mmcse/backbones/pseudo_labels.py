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


class ClipLabeller:
    """Visual pseudo labels of one clip: CLIP logits of VALOR's 10 frames, thresholded (CLIP_THRESHOLDS)."""

    folder = "CLIP/segment_pseudo_labels"

    def __init__(self, weights_dir, device):
        from transformers import CLIPTokenizer

        from mmcse.backbones.clip import load_clip
        from mmcse.backbones.weights import WEIGHT_FILES, find_weight

        path = find_weight(WEIGHT_FILES["clip"], weights_dir, features="valor")
        self.device = device
        self.model = load_clip(path, device)
        try:
            tokenizer = CLIPTokenizer.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError, TypeError):
            raise ValueError(f"weights {path}: no CLIP tokenizer files (vocab.json, merges.txt) there") from None
        self.text = clip_text_embeddings(self.model, tokenizer)

    def label(self, video, weak: np.ndarray) -> tuple[np.ndarray, list[str]]:
        import torch

        from mmcse.backbones.clip import clip_images, image_embeddings
        from mmcse.video.extractor import FPS, WINDOW_S, fit_window
        from mmcse.video.io import iter_frames, probe_video

        chunks = iter_frames(video, probe_video(video), FPS, chunk=FPS * WINDOW_S)
        frames = next(iter(chunks), None)
        chunks.close()
        if frames is None or len(frames) == 0:
            raise ValueError(f"{video}: no frames could be decoded")
        frames, _ = fit_window(frames, None)  # the first 10 s (a shorter video looped)
        with torch.inference_mode():
            images = image_embeddings(self.model, clip_images(frames).to(self.device))
        return segment_pseudo_labels(clip_segment_logits(self.model, images, self.text), weak, CLIP_THRESHOLDS), []


class ClapLabeller:
    """Audio pseudo labels of one clip: LAION-CLAP logits of 10 one-second segments, thresholded."""

    folder = "CLAP/segment_pseudo_labels"

    def __init__(self, weights_dir, device):
        import torch
        from transformers import RobertaTokenizer

        from mmcse.backbones import clap
        from mmcse.backbones.weights import WEIGHT_FILES, find_weight, load_state_dict, read_state_dict

        path = find_weight(WEIGHT_FILES["clap"], weights_dir, features="valor")
        tok_path = find_weight(WEIGHT_FILES["roberta"], weights_dir, features="valor")
        model = clap.build_clap()
        state = clap.laion_to_transformers_clap(read_state_dict(path, WEIGHT_FILES["clap"]))
        buffers = {k: v for k, v in model.state_dict().items() if k not in state and k.endswith(_INDEX_BUFFERS)}
        load_state_dict(path, model, WEIGHT_FILES["clap"], state={**buffers, **state})
        self.model = model.to(device)
        try:
            tokenizer = RobertaTokenizer.from_pretrained(str(tok_path), local_files_only=True)
        except (OSError, ValueError, TypeError):
            raise ValueError(f"weights {tok_path}: not a roberta-base tokenizer folder (vocab.json, merges.txt)") from None
        tokens = tokenizer(list(CLAP_CAPTIONS), padding="max_length", truncation=True, max_length=clap.MAX_TEXT_TOKENS,
                           return_tensors="pt")  # fmt: skip
        with torch.inference_mode():
            self.text = clap.text_embeddings(self.model, tokens["input_ids"].to(device),
                                             tokens["attention_mask"].to(device))  # fmt: skip

    def label(self, video, weak: np.ndarray) -> tuple[np.ndarray, list[str]]:
        import torch

        from mmcse.backbones import clap
        from mmcse.video.io import probe_video, read_audio

        if not probe_video(video).has_audio:
            return np.zeros((10, NUM_CLASSES), np.int64), [f"{video}: no audio track; no audio pseudo labels (all 0)"]
        audio = read_audio(video, sr=clap.CLAP_SR)[: clap.CLIP_SAMPLES]  # the first 10 s, as the clip VALOR read
        with torch.inference_mode():
            embeds = clap.audio_embeddings(self.model, clap.segment_waveforms(audio))
            logits = clap.zero_shot_logits(self.model, embeds, self.text).float().cpu().numpy()
        return segment_pseudo_labels(logits, weak, CLAP_THRESHOLDS), []


_INDEX_BUFFERS = ("relative_position_index", "position_ids", "token_type_ids")
