"""The corpus's fixed sound categories and the YAMNet (AudioSet) classes that count as recognising each.

Plain Python on purpose: the evaluation code imports this without torch. Every name is spelled exactly
as in YAMNet's class map (`yamnet_class_map.csv`, display_name column).
"""

from __future__ import annotations

from t2a_edge.core.errors import T2AError

LIVESTOCK = "Livestock, farm animals, working animals"

CATEGORIES: dict[str, tuple[str, ...]] = {
    # animals
    "dog": ("Dog", "Bark", "Yip", "Howl", "Bow-wow", "Growling", "Whimper (dog)",
            "Canidae, dogs, wolves", "Domestic animals, pets"),
    "cat": ("Cat", "Purr", "Meow", "Hiss", "Caterwaul", "Domestic animals, pets"),
    "bird": ("Bird", "Bird vocalization, bird call, bird song", "Chirp, tweet", "Squawk", "Pigeon, dove",
             "Coo", "Crow", "Caw", "Owl", "Hoot", "Bird flight, flapping wings", "Duck", "Quack", "Goose",
             "Honk", "Fowl", "Turkey", "Gobble"),
    "chicken": ("Chicken, rooster", "Cluck", "Crowing, cock-a-doodle-doo", "Fowl", "Bird", LIVESTOCK),
    "cow": ("Cattle, bovinae", "Moo", "Cowbell", LIVESTOCK),
    "sheep": ("Sheep", "Goat", "Bleat", LIVESTOCK),
    "horse": ("Horse", "Clip-clop", "Neigh, whinny", LIVESTOCK),
    "pig": ("Pig", "Oink", "Grunt", LIVESTOCK),
    "insect": ("Insect", "Cricket", "Mosquito", "Fly, housefly", "Buzz", "Bee, wasp, etc."),
    "frog": ("Frog", "Croak"),
    "wild animal": ("Animal", "Wild animals", "Roaring cats (lions, tigers)", "Roar", "Growling", "Grunt",
                    "Snort", "Whale vocalization", "Rodents, rats, mice", "Canidae, dogs, wolves"),
    # weather and water
    # YAMNet often names only the parent class ("Water" for rain, "Vehicle" for aircraft): accepted too.
    "rain": ("Rain", "Raindrop", "Rain on surface", "Thunderstorm", "Water"),
    "wind": ("Wind", "Wind noise (microphone)", "Rustling leaves", "Howl"),
    "thunder": ("Thunder", "Thunderstorm", "Rumble", "Boom"),
    "water": ("Water", "Stream", "Waterfall", "Gurgling", "Liquid", "Splash, splatter", "Slosh", "Drip",
              "Pour", "Trickle, dribble", "Gush", "Fill (with liquid)", "Water tap, faucet", "Boiling"),
    "ocean": ("Ocean", "Waves, surf", "Water", "Splash, splatter"),
    "fire": ("Fire", "Crackle", "Sizzle"),
    "rustling leaves": ("Rustling leaves", "Rustle", "Crumpling, crinkling"),
    "nature ambience": ("Outside, rural or natural", "Field recording", "Environmental noise", "Bird",
                        "Bird vocalization, bird call, bird song", "Chirp, tweet", "Insect", "Cricket",
                        "Wind", "Rustling leaves"),
    # vehicles
    "car": ("Vehicle", "Motor vehicle (road)", "Car", "Engine", "Idling", "Accelerating, revving, vroom",
            "Engine starting", "Race car, auto racing", "Skidding", "Tire squeal", "Car passing by", "Truck",
            "Bus", "Traffic noise, roadway noise", "Light engine (high frequency)",
            "Medium engine (mid frequency)", "Heavy engine (low frequency)", "Engine knocking", "Motorcycle",
            "Vehicle horn, car horn, honking", "Toot", "Air brake"),
    "aircraft": ("Aircraft", "Aircraft engine", "Jet engine", "Propeller, airscrew", "Helicopter",
                 "Fixed-wing aircraft, airplane", "Vehicle"),
    "train": ("Rail transport", "Train", "Train whistle", "Train horn", "Railroad car, train wagon",
              "Train wheels squealing", "Subway, metro, underground", "Steam whistle", "Clickety-clack", "Vehicle"),
    "boat": ("Boat, Water vehicle", "Ship", "Motorboat, speedboat", "Sailboat, sailing ship",
             "Rowboat, canoe, kayak", "Foghorn", "Air horn, truck horn", "Vehicle"),
    # people and places
    "footsteps": ("Walk, footsteps", "Run", "Shuffle", "Crunch"),
    "crowd": ("Crowd", "Chatter", "Hubbub, speech noise, speech babble", "Cheering", "Applause", "Clapping",
              "Children playing", "Laughter", "Speech"),
    # objects and actions
    "door": ("Door", "Slam", "Knock", "Squeak", "Creak", "Sliding door", "Cupboard open or close",
             "Drawer open or close"),
    "glass": ("Glass", "Chink, clink", "Shatter", "Breaking", "Smash, crash"),
    "bell": ("Bell", "Church bell", "Jingle bell", "Bicycle bell", "Chime", "Wind chime", "Gong",
             "Tubular bells", "Ding", "Ding-dong", "Jingle, tinkle", "Change ringing (campanology)", "Doorbell",
             "Cowbell", "Telephone bell ringing", "Alarm clock"),
    "clock": ("Clock", "Tick", "Tick-tock", "Mechanisms"),
    "household": ("Vacuum cleaner", "Toilet flush", "Scissors", "Dishes, pots, and pans", "Boiling",
                  "Blender", "Sink (filling or washing)", "Water tap, faucet", "Camera",
                  "Single-lens reflex camera", "Zipper (clothing)", "Keys jangling", "Coin (dropping)",
                  "Cash register", "Microwave oven", "Mechanical fan", "Cupboard open or close",
                  "Drawer open or close"),
    "siren": ("Siren", "Alarm", "Civil defense siren", "Fire engine, fire truck (siren)", "Police car (siren)",
              "Ambulance (siren)", "Emergency vehicle", "Buzzer", "Whistle", "Steam whistle", "Foghorn",
              "Car alarm"),
    # tools and machines
    "sawing": ("Sawing", "Tools", "Power tool", "Chainsaw", "Filing (rasp)", "Wood"),
    "hammering": ("Hammer", "Tools", "Clang", "Knock", "Tap", "Thump, thud", "Whack, thwack", "Jackhammer"),
    "chopping wood": ("Chop", "Wood", "Splinter", "Crack", "Tools", "Whack, thwack", "Thump, thud",
                      "Chopping (food)"),
    "pickaxe": ("Tools", "Hammer", "Clang", "Chink, clink", "Tap", "Scrape", "Crunch", "Whack, thwack"),
    "machinery": ("Mechanisms", "Gears", "Pulleys", "Ratchet, pawl", "Engine", "Idling", "Whir", "Hum",
                  "Clatter", "Jackhammer", "Sewing machine", "Printer", "Power tool", "Drill",
                  "Mechanical fan", "Vibration"),
    # impacts and weapons
    "explosion": ("Explosion", "Boom", "Burst, pop", "Eruption", "Fireworks", "Firecracker", "Artillery fire",
                  "Bang"),
    "gunshot": ("Gunshot, gunfire", "Machine gun", "Fusillade", "Cap gun", "Artillery fire", "Bang",
                "Explosion"),
    "metal clang": ("Clang", "Chink, clink", "Ping", "Ding", "Whoosh, swoosh, swish", "Smash, crash",
                    "Cutlery, silverware"),
    "arrow": ("Arrow", "Whoosh, swoosh, swish", "Thump, thud", "Thunk", "Whip", "Zing", "Whack, thwack"),
    "crash": ("Smash, crash", "Breaking", "Crushing", "Bang", "Thump, thud", "Thunk", "Clatter",
              "Whack, thwack"),
    # music
    "musical instrument": (
        "Musical instrument", "Music", "Plucked string instrument", "Guitar", "Electric guitar", "Bass guitar",
        "Acoustic guitar", "Steel guitar, slide guitar", "Strum", "Banjo", "Mandolin", "Ukulele", "Zither",
        "Keyboard (musical)", "Piano", "Electric piano", "Organ", "Electronic organ", "Hammond organ",
        "Harpsichord", "Percussion", "Drum kit", "Drum", "Snare drum", "Rimshot", "Drum roll", "Bass drum",
        "Timpani", "Tabla", "Cymbal", "Hi-hat", "Wood block", "Tambourine", "Rattle (instrument)", "Maraca",
        "Gong", "Mallet percussion", "Marimba, xylophone", "Glockenspiel", "Vibraphone", "Steelpan",
        "Orchestra", "Brass instrument", "French horn", "Trumpet", "Trombone", "Bowed string instrument",
        "String section", "Violin, fiddle", "Pizzicato", "Cello", "Double bass",
        "Wind instrument, woodwind instrument", "Flute", "Saxophone", "Clarinet", "Harp", "Harmonica",
        "Accordion", "Bagpipes", "Didgeridoo"),
}


def accepted_classes(category: str) -> tuple[str, ...]:
    """The AudioSet display names that count as recognising `category`."""
    try:
        return CATEGORIES[category]
    except KeyError:
        raise T2AError(f"unknown sound category '{category}' (known: {', '.join(sorted(CATEGORIES))})") from None
