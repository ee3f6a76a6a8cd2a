"""The 25 LLP event classes in the official order (index 0..24), used everywhere."""

LLP_CLASSES: tuple[str, ...] = (
    "Speech",
    "Car",
    "Cheering",
    "Dog",
    "Cat",
    "Frying_(food)",
    "Basketball_bounce",
    "Fire_alarm",
    "Chainsaw",
    "Cello",
    "Banjo",
    "Singing",
    "Chicken_rooster",
    "Violin_fiddle",
    "Vacuum_cleaner",
    "Baby_laughter",
    "Accordion",
    "Lawn_mower",
    "Motorcycle",
    "Helicopter",
    "Acoustic_guitar",
    "Telephone_bell_ringing",
    "Baby_cry_infant_cry",
    "Blender",
    "Clapping",
)
NUM_CLASSES = len(LLP_CLASSES)  # 25
NUM_SEGMENTS = 10  # one-second segments per 10-s clip
CLASS_INDEX: dict[str, int] = {name: i for i, name in enumerate(LLP_CLASSES)}


def class_index(name: str) -> int:
    """Index of an LLP class name; raises ValueError naming the valid classes for an unknown one."""
    try:
        return CLASS_INDEX[name]
    except KeyError:
        raise ValueError(f"unknown LLP class {name!r}; expected one of: {', '.join(LLP_CLASSES)}") from None
