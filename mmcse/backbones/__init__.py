"""Real feature backbones that make the published HAN and VALOR features from a video, weights brought by
the user.

    resnet.ResNet152, r2plus1d.R2Plus1D18   torchvision's exact state_dict layouts (its files load unchanged)
    vggish.VGGish                           harritaylor/torchvggish's layout
    clip, clap                              CLIP ViT-L/14 and the LAION-CLAP HTSAT feature map through transformers
    pseudo_labels                           VALOR's label elaboration (captions, thresholds, the rule)
    cache                                   extracted features per (video, spec, weights) for parse / the app
    preprocess, log_mel                     what each one is fed (resize / crop / normalise; VGGish's log-mel examples)
    weights                                 which files each feature set needs, where they are, loading them
    registry                                extractor_for_spec(spec): the extractor that makes a spec's features

The han feature set (LLP's released features, HAN ECCV 2020):
- ``vggish`` (10, 128): one VGGish embedding per 0.96-s example of the clip's 16-kHz audio, the RAW
  embedding after VGGish's last ReLU, not AudioSet's PCA-whitened 8-bit form. Evidence: HAN's
  ``audio_feature_extractor.py`` (from AVE-ECCV18) writes the network's ``embedding_batch`` straight into
  its (N, 10, 128) array: users hit "could not broadcast (10,6,4,512) into (10,128)" there
  (YapengTian/AVVP-ECCV20#9, AVE-ECCV18#5), which a PCA step in between would have failed before; and
  the 2018 VGGish it used ended in a ReLU (torchvggish keeps it).
- ``res152`` (80, 2048): ImageNet ResNet-152 global-average-pooled features of 80 frames at 8 fps.
- ``r2plus1d_18`` (10, 512): Kinetics R(2+1)D-18 pooled features of 10 one-second clips of 8 frames.
The exact resize / crop HAN used for the two visual streams is not published; torchvision's eval
transforms of those weights are used (and checked against torchvision itself).
"""
