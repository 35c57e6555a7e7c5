"""Prompts written from the category names, not the captions: does the model follow unseen wording?

Each test clip gets one of its category's prompts (cycling by id order), so the paraphrased row is scored
against the same real clips and with the same category map as the in-distribution row. A test checks
that no prompt here is a caption of the corpus.
"""

from __future__ import annotations

PARAPHRASES: dict[str, tuple[str, ...]] = {
    "aircraft": ("an airplane flying overhead", "the drone of a plane in the sky", "aircraft noise"),
    "arrow": ("an arrow whizzing through the air", "archery practice, arrows landing",
              "the whoosh of a flying arrow"),
    "bell": ("bells chiming", "a church bell tolling", "a small bell being rung"),
    "bird": ("birds tweeting", "a songbird singing", "the chirping of birds"),
    "boat": ("a boat on the water", "a ship at sea", "a vessel sounding a horn at sea"),
    "car": ("a car driving past", "an automobile engine running", "a car on the street"),
    "cat": ("a kitten meowing", "a cat making noises", "a meowing house cat"),
    "chicken": ("hens making noise in the henhouse", "a rooster calling", "chickens in a coop"),
    "chopping wood": ("someone splitting logs", "an axe chopping firewood", "wood being chopped"),
    "clock": ("a ticking clock", "the ticking of a wall clock", "a clock going tick-tock"),
    "cow": ("a cow calling out on a meadow", "cows on a farm", "the moo of cattle"),
    "crash": ("something crashing to the ground", "a heavy object smashing into pieces", "things smashing together"),
    "crowd": ("a crowd of people", "many people cheering", "a noisy crowd"),
    "dog": ("a dog is barking", "barking dogs", "a puppy barking"),
    "door": ("a door slamming shut", "someone opening a door", "a door swinging open and shut"),
    "explosion": ("a powerful detonation", "a bomb going off", "an explosive blast"),
    "fire": ("a campfire burning", "a burning fire", "fire crackling and burning"),
    "footsteps": ("a person walking", "footsteps of someone walking", "someone running"),
    "frog": ("frogs croaking", "a frog in a pond", "the croaking of frogs at night"),
    "glass": ("breaking glass", "a glass shattering", "glasses clinking together"),
    "gunshot": ("a gun being fired", "gunshots", "a rifle shot"),
    "hammering": ("someone hammering nails", "a hammer hitting", "hammering on metal"),
    "horse": ("a horse calling out", "horses galloping", "a horse"),
    "household": ("household chores", "someone cleaning the house", "sounds around the house"),
    "insect": ("insects buzzing", "bugs flying around", "insects humming in the grass"),
    "machinery": ("a machine running", "heavy machines at work in a factory hall", "a motor whirring"),
    "metal clang": ("metal clanging", "clanging metal objects", "a metallic clank"),
    "musical instrument": ("a musical instrument playing", "someone playing an instrument", "music being played"),
    "nature ambience": ("sounds of nature", "outdoors in nature", "a peaceful countryside"),
    "ocean": ("the ocean on a calm day", "breakers rolling in at the seaside", "waves breaking on a beach"),
    "pickaxe": ("a pickaxe hitting stone", "digging rock with a pickaxe", "a miner working"),
    "pig": ("a pig oinking", "pigs on a farm", "a grunting pig"),
    "rain": ("it is raining", "rainfall", "heavy rain"),
    "rustling leaves": ("leaves blowing in the wind", "dry leaves rustling", "foliage rustling"),
    "sawing": ("a carpenter cutting a board with a saw", "a handsaw sawing", "sawing through wood"),
    "sheep": ("sheep calling in a field", "a flock of sheep", "a lamb"),
    "siren": ("a siren wailing", "an ambulance siren", "a police siren"),
    "thunder": ("thunder in the distance", "a storm with thunder", "loud thunder"),
    "train": ("a train passing by", "a locomotive", "a railway train"),
    "water": ("water moving and bubbling", "splashing about in water", "a running stream of water"),
    "wild animal": ("a wild animal", "animals in the wild", "a roaring animal"),
    "wind": ("a breezy, windy afternoon", "a windy day", "howling wind"),
}


def paraphrase(category: str, index: int) -> str | None:
    """The `index`-th paraphrase of `category` (cycling), or None for a category without any."""
    prompts = PARAPHRASES.get(category)
    return prompts[index % len(prompts)] if prompts else None
