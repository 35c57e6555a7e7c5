"""Per-package rules: which files of each Debian package to take, and their category and captions.

A rule is (regex searched in the lower-cased path, category, caption spec). Caption specs are
'main|paraphrase|...' with {fields} from the regex's named groups (or the stamp text for tuxpaint).
The first matching rule wins; a file that matches no rule is not taken (music, voices, UI blips,
fantasy creatures and game-only noises are simply never listed). `skip` patterns are checked first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """Path pattern -> category and caption spec (None: the category's template with {name})."""

    pattern: str
    category: str
    captions: str | None = None


@dataclass(frozen=True)
class Source:
    """One Debian package and how to read it."""

    package: str
    short: str  # prefix of clip ids
    license: str  # used when the copyright file names nothing more specific
    kind: str  # "files" (audio files in the package), "zip", "rcc", "cat" or "tuxpaint"
    members: str  # regex on package paths to stream (audio files or the containers)
    rules: tuple[Rule, ...] = ()
    skip: tuple[str, ...] = ()
    inner: str = r"\.(ogg|wav|flac)$"  # regex on paths inside containers

    def match(self, path: str) -> tuple[Rule, dict[str, str]] | None:
        """The first rule matching `path` and its named groups, or None when the file is not taken."""
        lowered = path.lower()
        if any(re.search(s, lowered) for s in self.skip):
            return None
        for rule in self.rules:
            m = re.search(rule.pattern, lowered)
            if m:
                return rule, {k: v for k, v in m.groupdict().items() if v}
        return None


def R(pattern: str, category: str, captions: str | None = None) -> Rule:
    return Rule(pattern, category, captions)


AUDIO = r"\.(ogg|wav|flac)$"

# --- OpenTTD OpenSFX: entry index -> (category, captions); the entry's own title is the first hint.
OPENSFX = {
    2: ("water", "a heavy splash of water|something splashes into water|a wet splat"),
    3: ("siren", "a factory whistle blows|a loud steam whistle|an industrial whistle sounding"),
    4: ("train", "a steam train departs from a station|a steam locomotive pulling away with a whistle|"
                 "steam train leaving the station"),
    5: ("train", "a steam engine going into a tunnel|a steam train whistles and rumbles|steam locomotive passing"),
    6: ("boat", "a ship's horn blows|the deep horn of a ship|a ship sounding its horn in a harbour"),
    7: ("boat", "a ferry horn blows|the horn of a ferry|a big boat sounding its horn"),
    8: ("aircraft", "a propeller plane starts its engine|a small plane's propeller engine starting|"
                    "an aircraft engine spinning up"),
    9: ("aircraft", "an early jet takes off|a jet plane roaring on take-off|a jet aircraft taking off"),
    10: ("train", "a diesel train departs from a station|an electric train pulling away|"
                  "a train leaving the station"),
    11: ("machinery", "mining machinery grinding|heavy machines working in a mine|industrial machinery running"),
    13: ("train", "a steam engine hisses|steam released from a locomotive|a hiss of steam"),
    14: ("train", "a level crossing bell rings as a train approaches|a railway crossing signal|"
                  "a train passing a level crossing"),
    15: ("car", "a car engine sputters and breaks down|a road vehicle breaking down|an engine failing"),
    17: ("crash", "a crash|something crashes to the ground|a loud crash"),
    18: ("explosion", "an explosion|a loud explosion|something explodes"),
    19: ("crash", "a big crash|a huge crash and rumble|a heavy crash"),
    20: ("household", "a cash register opens with a ring|a till rings up a sale|the ka-ching of a cash till"),
    23: ("aircraft", "a plane's wheels touch the runway|an aircraft landing|plane wheels screeching on landing"),
    24: ("aircraft", "a helicopter flies past|the thudding rotor of a helicopter|a helicopter hovering"),
    25: ("car", "an old truck starts and pulls away|a truck engine starting and driving off|"
                "an old bus starting up"),
    26: ("car", "an old truck starts, honks and pulls away|a truck horn and engine|a bus honking as it leaves"),
    27: ("car", "a modern bus starts and pulls away|a bus engine starting|a bus driving off"),
    28: ("car", "an old bus starts and pulls away|an old bus engine starting|a bus driving away"),
    29: ("crowd", "a crowd applauds|people clapping and cheering|applause from an audience"),
    33: ("hammering", "a jackhammer pounding|a pneumatic drill breaking concrete|a jackhammer at work"),
    35: ("car", "a modern car horn honks|a car honking its horn|a short car horn"),
    36: ("sheep", "a sheep bleats|the bleat of a sheep|a sheep baaing"),
    37: ("cow", "a cow moos|the low of a cow|a cow mooing on a farm"),
    38: ("horse", "a horse neighs|the whinny of a horse|a horse neighing"),
    40: ("sawing", "a sawmill cutting wood|a circular saw cutting logs|a saw at a lumber mill"),
    52: ("wind", "wind blowing|a gust of wind|the wind howls"),
    54: ("chopping wood", "a tree crashes to the ground|a falling tree breaking branches|a tree falls in the forest"),
    55: ("chopping wood", "a tree falls|a tree creaks and falls|a felled tree hitting the ground"),
    56: ("sawing", "a chainsaw cutting wood|a chainsaw revving|a chainsaw cutting a tree"),
    57: ("wind", "heavy wind howling|a strong wind blowing|a storm wind"),
    59: ("aircraft", "a supersonic jet takes off|a fighter jet roaring|a jet plane taking off"),
    61: ("aircraft", "a modern jet takes off|a passenger jet roaring down the runway|a jet airliner taking off"),
    65: ("train", "a maglev train departs|a fast train pulling out of a station|a modern train departing"),
    66: ("bird", "a tropical bird calls|an exotic bird singing|a bird calling in a jungle"),
    67: ("wild animal", "a lion roars|the roar of a lion|a big cat roaring"),
    68: ("wild animal", "monkeys chattering|monkeys screeching in a jungle|a troop of monkeys calling"),
    71: ("train", "a monorail train departs|an electric train pulling away|a monorail leaving the station"),
    72: ("bird", "a tropical bird calls|an exotic bird chirping|birds calling in a jungle"),
}

FOOT = "footsteps on {surf}|someone walking on {surf}|steps on {surf}"

SOURCES: dict[str, Source] = {}


def _add(source: Source) -> None:
    SOURCES[source.package] = source


_add(Source(
    "openttd-opensfx", "opensfx", "CC-BY-3.0", "cat", r"opensfx\.cat$",
))

_add(Source(
    "minetest-data", "minetest", "CC-BY-SA-3.0", "files", r"minetest_game/mods/.*" + AUDIO,
    rules=(
        R(r"default_(?P<surf>dirt|grass|gravel|sand|snow|wood|hard|ice|metal|glass)_footstep", "footsteps",
          "footsteps on {surf}|someone walking on {surf}|a person stepping on {surf}"),
        R(r"default_water_footstep", "water", "wading through shallow water|footsteps splashing in water|"
                                              "walking through water"),
        R(r"default_break_glass", "glass", "glass breaking|a pane of glass shatters|glass smashing"),
        R(r"doors_glass_door_(?P<act>open|close)", "door", "a glass door {act}s|someone {act}s a glass door|"
                                                          "a sliding glass door"),
        R(r"doors_steel_door_(?P<act>open|close)", "door", "a heavy steel door {act}s|a metal door {act}s|"
                                                          "a steel door creaking"),
        R(r"doors_door_(?P<act>open|close)", "door", "a wooden door {act}s|someone {act}s a door|a door creaks"),
        R(r"doors_fencegate_(?P<act>open|close)", "door", "a wooden gate {act}s|a garden gate creaking|"
                                                         "a fence gate {act}s"),
        R(r"xpanes_steel_bar_door_(?P<act>open|close)", "door", "an iron bar door {act}s|a prison door {act}s|"
                                                               "a metal gate clanking"),
        R(r"default_chest_(?P<act>open|close)", "door", "a wooden chest lid {act}s|a chest creaks as it {act}s|"
                                                       "a creaky lid"),
        R(r"env_sounds_water", "water", "a babbling brook|water flowing in a stream|running water"),
        R(r"env_sounds_lava|default_cool_lava", "fire", "lava bubbling and hissing|molten lava sizzling|"
                                                        "hissing hot lava"),
        R(r"fire_(fire|large|small)", "fire", "a fire crackling|flames burning|a crackling fire"),
        R(r"default_furnace_active", "fire", "a furnace roaring|fire burning in a furnace|a crackling furnace"),
        R(r"fire_extinguish_flame", "fire", "a flame being put out with a hiss|a fire extinguished|"
                                            "hissing as a fire goes out"),
        R(r"tnt_explode", "explosion", "an explosion|dynamite exploding|a loud blast"),
        R(r"tnt_gunpowder_burning", "fire", "a fuse burning and fizzing|gunpowder burning|a hissing fuse"),
        R(r"default_dig_choppy", "chopping wood", "chopping wood with an axe|an axe striking wood|"
                                                  "someone chopping a log"),
        R(r"default_dig_cracky", "pickaxe", "a pickaxe striking stone|digging rock with a pick|"
                                            "stone being chipped"),
        R(r"carts_cart_moving", "train", "a mine cart rolling on rails|a rail cart rattling along|"
                                        "wheels rumbling on a track"),
    ),
))

_add(Source(
    "gcompris-qt-data", "gcompris", "GPL-3+", "rcc", r"\.rcc$",
    rules=(
        R(r"farm_animals/.*/(?P<name>cat)\.ogg", "cat", "a cat meows|a cat meowing|the meow of a cat"),
        R(r"farm_animals/.*/dog\.ogg", "dog", "a dog barks|a dog barking|barking of a dog"),
        R(r"farm_animals/.*/cow\.ogg", "cow", "a cow moos|a cow mooing|the low of a cow on a farm"),
        R(r"farm_animals/.*/horse\.ogg", "horse", "a horse neighs|a horse whinnying|the neigh of a horse"),
        R(r"farm_animals/.*/pig\.ogg", "pig", "a pig oinks|pigs grunting|the oink of a pig"),
        R(r"farm_animals/.*/sheep\.ogg", "sheep", "a sheep bleats|sheep baaing|the bleat of a sheep"),
        R(r"farm_animals/.*/duck\.ogg", "bird", "a duck quacks|ducks quacking|the quack of a duck"),
        R(r"farm_animals/.*/chickens\.ogg", "chicken", "chickens clucking|hens clucking in a farmyard|"
                                                       "a group of chickens"),
        R(r"farm_animals/.*/owl\.ogg", "bird", "an owl hoots|the hoot of an owl at night|an owl hooting"),
        R(r"instruments/resource/(?P<inst>[a-z_]+)\.ogg", "musical instrument",
          "{inst} playing|a short melody on {inst}|the sound of {inst}"),
        R(r"xylofon_son", "musical instrument", "a xylophone note|a note struck on a xylophone|a xylophone"),
        R(r"guitar_son", "musical instrument", "a guitar note|a guitar string plucked|an acoustic guitar"),
        R(r"lrbark", "dog", "a dog barks|a dog barking outside|barking of a dog"),
        R(r"lrrain_in_garden", "rain", "rain falling in a garden|steady rain outdoors|the sound of rain"),
        R(r"lrfrogsinpond", "frog", "frogs croaking in a pond during a storm|frogs and rain|croaking frogs"),
        R(r"lrstartandstopcarengine", "car", "a car engine starts and stops|a car starting up|"
                                             "a car engine idling then switched off"),
        R(r"lrapplauses", "crowd", "an audience applauds|people clapping|a round of applause"),
        R(r"lrdoor_open", "door", "a door opens|a door creaking open|someone opens a door"),
        R(r"lrtrain_slowing_down", "train", "a train slowing down|a train braking as it arrives|"
                                           "a train coming to a stop"),
        R(r"lrbuddhist_gong", "bell", "a gong is struck|a resonant gong|a Buddhist gong ringing"),
        R(r"lrring_", "bell", "a bell rings|a ringing bell|a small bell"),
        R(r"lrfactory_noise", "machinery", "factory machinery running|noise of a factory|industrial machines"),
        R(r"lrobject_falling", "crash", "an object falls to the floor|something clatters to the ground|"
                                        "a thing falling"),
        R(r"guessnumber/resource/helicopter", "aircraft", "a helicopter flying|helicopter rotor blades|"
                                                         "a helicopter overhead"),
        R(r"railroad/resource/sounds/train", "train", "a train passing|a train on the tracks|a train rolling by"),
        R(r"traffic/resource/car", "car", "a car engine|a car driving|a car passing"),
        R(r"canal_lock/resource/water_fill", "water", "water filling a lock|rushing water|water pouring in"),
        R(r"canal_lock/resource/door_(?P<act>open|close)", "door", "a heavy lock gate {act}s|"
                                                                  "a gate {act}s|a big door moving"),
        R(r"core/resource/sounds/water", "water", "water splashing|a splash of water|water sloshing"),
        R(r"watercycle/resource/harbor", "ocean", "a harbour with waves and boats|waves lapping in a harbour|"
                                                 "the sea at a port"),
        R(r"clickgame/resource/drip", "water", "a drop of water dripping|a water drip|a single drip"),
        R(r"mining/resource/pickaxe", "pickaxe", "a pickaxe striking rock|mining with a pick|a pick hitting stone"),
    ),
))

_add(Source(
    "tuxpaint-stamps-default", "tuxpaint", "GPL-2", "tuxpaint", r"stamps/.*\.(ogg|txt)$",
    skip=(r"_desc", r"symbols/", r"/alphabets/", r"christmas/", r"hanukkah/", r"bat_left", r"ghost",
          r"spider", r"military/", r"faces/", r"food/",
          r"roadsigns/", r"apollo", r"bathyscape", r"dreydl", r"bottle",
          r"iguana", r"ferret", r"giraffe", r"koala", r"wombat", r"beaver", r"badger", r"xanthia"),
    rules=(
        R(r"household/vacuum", "household", "a vacuum cleaner running|someone vacuuming|"
                                            "the drone of a vacuum cleaner"),
        R(r"household/washing", "household", "a washing machine running|a washing machine spinning|"
                                             "a laundry machine"),
        R(r"household/toilet", "household", "a toilet flushing|the flush of a toilet|a toilet flushes"),
        R(r"household/kettle", "household", "a kettle boiling|water boiling in an electric kettle|"
                                            "a kettle coming to the boil"),
        R(r"household/rubberduck", "household", "a rubber duck squeaks|a squeaky toy|squeaking of a rubber duck"),
        R(r"camera_35mm", "household", "a camera shutter clicks|the click of a film camera|"
                                       "taking a photo with a camera"),
        R(r"arttools/scissors", "household", "scissors snipping|a pair of scissors cutting|"
                                             "the snip of scissors"),
        R(r"household/dishes/glass", "glass", "a glass clinks|a clink of glass|glasses clinking"),
        R(r"tools/saw", "sawing", "a hand saw cutting wood|someone sawing a plank|the rasp of a saw"),
        R(r"tools/(hammer|mallet)", "hammering", "a hammer striking|someone hammering|hammer blows"),
        R(r"lightningbolt", "thunder", "a thunderclap|lightning strikes with a crack of thunder|"
                                       "thunder rumbling"),
        R(r"halloween/blackcat", "cat", "a black cat meows|a cat meowing|the meow of a cat"),
        R(r"newyears/fireworks", "explosion", "big fireworks exploding|fireworks bursting in the sky|"
                                              "a fireworks display"),
        R(r"firetruck", "siren", "a fire engine siren|a fire truck with its siren wailing|an emergency siren"),
        R(r"hobbies/music/", "musical instrument"),
        R(r"/birds/rooster", "chicken", "a rooster crows|a rooster crowing at dawn|cock-a-doodle-doo"),
        R(r"equines/donkey", "horse", "a donkey brays|a donkey braying|the hee-haw of a donkey"),
        R(r"cats/(lion|tiger)", "wild animal", "{name} roars|{name} roaring|the roar of {name}"),
        R(r"/dogs/(dog|fox)", "dog"),
        R(r"/birds/(hen|rooster)", "chicken"),
        R(r"/birds/", "bird"),
        R(r"/insects/", "insect"),
        R(r"/amphibians/", "frog"),
        R(r"bovines/(cow|bull|bison)", "cow"),
        R(r"bovines/(goat|mountaingoat|ram|sheep)", "sheep"),
        R(r"equines/", "horse"),
        R(r"mammals/pig", "pig"),
        R(r"animals/", "wild animal"),
    ),
))

_add(Source(
    "widelands-data", "widelands", "GPL-2+", "files", r"data/(sound|world)/.*" + AUDIO,
    skip=(r"/music/", r"click", r"message", r"lobby", r"military/", r"create_construction"),
    rules=(
        R(r"animals/bird", "bird", "birds singing|a bird chirping in the forest|birdsong"),
        R(r"animals/crickets", "insect", "crickets chirping|crickets at night|the chirp of crickets"),
        R(r"animals/frog", "frog", "a frog croaking|frogs croak by a pond|a croaking frog"),
        R(r"animals/(wolf|coyote)", "dog", "a wolf howling|wolves howl in the distance|the howl of a wolf"),
        R(r"animals/boar", "pig", "a wild boar grunting|a boar snorting|the grunt of a wild boar"),
        R(r"animals/(moose|stag)", "wild animal", "a stag bellowing|a deer calling in the forest|"
                                                  "the bellow of a stag"),
        R(r"farm/donkey", "horse", "a donkey braying|the hee-haw of a donkey|a donkey brays"),
        R(r"farm/horse", "horse", "a horse neighs|a horse whinnying|the neigh of a horse"),
        R(r"farm/(ox|farm_animal)", "cow", "an ox lowing|cattle mooing|a cow moos"),
        R(r"farm/sheep", "sheep", "sheep bleating|a sheep baas|the bleating of sheep"),
        R(r"critters/duck", "bird", "a duck quacking|ducks quack|the quack of a duck"),
        R(r"(saw/|sawmill)", "sawing", "a saw cutting wood|sawing timber|a saw at work"),
        R(r"(cutting/stonecutter|stonecutting/)", "pickaxe", "a stonemason chiselling stone|"
                                                             "chipping stone with a chisel|stone cutting"),
        R(r"(hammering/|smiths/smith|toolsmith)", "hammering", "a hammer on an anvil|a blacksmith hammering|"
                                                               "hammering metal"),
        R(r"smiths/sharpening", "sawing", "a blade being sharpened on a grindstone|sharpening a tool|"
                                          "a grinding wheel"),
        R(r"woodcutting/tree_falling", "chopping wood", "a tree falling|a tree creaks and crashes down|"
                                                        "a felled tree"),
        R(r"woodcutting/", "chopping wood", "chopping wood with an axe|a woodcutter at work|an axe biting wood"),
        R(r"mill/mill_turning", "machinery", "a mill wheel turning|a windmill creaking|millstones grinding"),
        R(r"(mill/weaving|barbarians/weaver)", "machinery", "a loom weaving|a weaving machine clattering|"
                                                            "a wooden loom"),
        R(r"taverns/", "crowd", "people chatting in a tavern|a busy inn|crowd murmur in a pub"),
        R(r"other/falling_tools", "crash", "tools clattering to the ground|metal tools falling|a crash of tools"),
        R(r"metal/furnace", "fire", "a furnace roaring|fire in a furnace|a blast furnace"),
        R(r"fisher/fisher_throw_net", "water", "a net thrown into water|a splash in water|something splashing"),
    ),
))

_add(Source(
    "0ad-data", "0ad", "CC-BY-SA-3.0", "zip", r"mods/public/public\.zip$",
    inner=r"^audio/.*\.ogg$",
    skip=(r"^audio/(music|interface)/", r"^audio/voice/(?!global/civ_dog_bark)", r"/human/death/",
          r"_select", r"_order", r"_trained", r"/siege/", r"attack/weapon/(pike|spear|sword_attack|jav|sling)",
          r"fleshimp|fleshstab", r"/ship/ship_select"),
    rules=(
        R(r"civ_dog_bark", "dog", "a dog barks|a dog barking|a barking dog"),
        R(r"animal/cattle", "cow", "a cow moos|cattle mooing|a cow lowing in a field"),
        R(r"animal/chicken", "chicken", "a chicken clucks|hens clucking|a chicken clucking in a farmyard"),
        R(r"animal/elephant", "wild animal", "an elephant trumpets|an elephant trumpeting|the call of an elephant"),
        R(r"(animal/horse|death/death_horse|mounted/death)", "horse", "a horse neighs|a horse snorting and "
                                                                       "whinnying|the neigh of a horse"),
        R(r"animal/lion", "wild animal", "a lion roars|the roar of a lion|a lion growling"),
        R(r"animal/pig", "pig", "a pig squeals|a pig grunting|pigs oinking"),
        R(r"(animal/sheep|death/goat)", "sheep", "a sheep bleats|a goat bleating|the bleat of a sheep"),
        R(r"animal/(camel|flamingo|peacock)|death/death_camel", "wild animal", "an animal calling|the cry of an "
                                                                              "animal|an exotic animal"),
        R(r"gate/stonegate_(?P<act>open|close)", "door", "a heavy stone gate {act}s|a big gate grinding as "
                                                        "it {act}s|a castle gate {act}s"),
        R(r"footsteps/foo?tstep_(?P<surf>sand|grass|gravel|rock|wood)_running", "footsteps",
          "someone running on {surf}|running footsteps on {surf}|a person jogging on {surf}"),
        R(r"footsteps/foo?tstep_(?P<surf>sand|grass|gravel|rock|wood)_walking", "footsteps", FOOT),
        R(r"singlesteps/fs_(?P<surf>grass|gravel|rock|sand|snow|wood)", "footsteps",
          "a footstep on {surf}|a single step on {surf}|stepping on {surf}"),
        R(r"hstep_(run_)?dirt", "footsteps", "footsteps on dirt|someone walking on a dirt path|steps on earth"),
        R(r"mounted/movement/mstep", "horse", "horse hooves clip-clopping|a horse trotting|hoofbeats"),
        R(r"ship/(ship_move|smove|warship_move)", "boat", "a wooden ship creaking on the water|oars and water|"
                                                          "a boat moving through water"),
        R(r"ambient/building/amb_farm", "nature ambience", "farmyard ambience with animals|sounds of a farm|"
                                                           "a busy farm"),
        R(r"ambient/building/amb_port", "ocean", "a harbour with waves and gulls|port ambience by the sea|"
                                                 "waves and seagulls at a harbour"),
        R(r"ambient/building/amb_trade", "crowd", "a busy market with people talking|market crowd chatter|"
                                                  "people bustling at a market"),
        R(r"dayscape/day_tropical", "nature ambience", "a tropical forest with birds and insects|"
                                                       "jungle ambience|birds calling in a rainforest"),
        R(r"dayscape/", "nature ambience", "birds singing in the countryside|a quiet day outdoors with birds|"
                                           "countryside ambience"),
        R(r"water/river_(?P<speed>slow|med|fast|raging)", "water", "a river flowing|water rushing in a river|"
                                                                    "a flowing stream"),
        R(r"water/waterfall", "water", "a waterfall|water crashing down a waterfall|a roaring waterfall"),
        R(r"water/wave", "ocean", "waves breaking on the shore|ocean waves|surf crashing on rocks"),
        R(r"weather/rain", "rain", "rain falling|steady rain|the sound of heavy rain"),
        R(r"weather/thunder", "thunder", "thunder rumbling|a thunderstorm|a rolling clap of thunder"),
        R(r"weather/snowstorm", "wind", "a howling snowstorm|blizzard winds|icy wind blowing"),
        R(r"weather/windleaves", "rustling leaves", "wind rustling the leaves|leaves rustling in a breeze|"
                                                    "trees swaying in the wind"),
        R(r"weather/wind", "wind", "wind blowing|gusts of wind|a strong wind howling"),
        R(r"destruction/building_collapse", "crash", "a building collapses|a wall crumbling down|"
                                                     "rubble crashing down"),
        R(r"destruction/explode_debris", "explosion", "an explosion with flying debris|a blast|something explodes"),
        R(r"attack/fire/", "fire", "a fire crackling|flames burning|a crackling fire"),
        R(r"impact/arrow_(?P<mat>wood|stone|metal|dirt)", "arrow", "an arrow hits {mat}|an arrow striking {mat}|"
                                                                   "the thud of an arrow in {mat}"),
        R(r"weapon/arrowfly", "arrow", "an arrow whizzes past|an arrow flying through the air|"
                                       "the whoosh of an arrow"),
        R(r"weapon/bow_attack", "arrow", "a bow is fired|an archer shoots an arrow|the twang of a bowstring"),
        R(r"weapon/musket", "gunshot", "a musket shot|an old gun fires|a gunshot"),
        R(r"weapon/swordhit|impact/shield_metal", "metal clang", "swords clashing|metal clanging against metal|"
                                                                 "a sword hitting a shield"),
        R(r"impact/shield_wood", "crash", "a blow on a wooden shield|a heavy thud on wood|a wooden thump"),
        R(r"construction/con_saw", "sawing", "a saw cutting wood|sawing a plank|a hand saw at work"),
        R(r"construction/con_wood", "hammering", "hammering on wood|a carpenter at work|nails hammered into wood"),
        R(r"construction/con_stone", "pickaxe", "stones being laid and chipped|a mason working stone|"
                                                "stone knocking on stone"),
        R(r"lumbering/lumber_treeexpire", "chopping wood", "a tree falling|a tree creaks and crashes down|"
                                                          "a felled tree"),
        R(r"lumbering/", "chopping wood", "chopping wood with an axe|an axe striking a tree|"
                                          "a woodcutter chopping"),
        R(r"mining/", "pickaxe", "a pickaxe striking rock|mining with a pick|a pick chipping stone"),
        R(r"foraging/leaves", "rustling leaves", "rustling leaves|someone pushing through leaves|"
                                                 "leaves rustling"),
        R(r"farming/hoe", "pickaxe", "a hoe digging soil|digging the earth|a garden hoe striking the ground"),
    ),
))

_add(Source(
    "megaglest-data", "megaglest", "CC-BY-SA-3.0", "files", r"megaglest/.*" + AUDIO,
    # Unit responses (_ack, _select, _attack, _die, _hit) are voice-acted, even for animal units.
    skip=(r"/music/", r"_(ack|select|attack|die|hit|sel)\d*\.wav$", r"_click|/click"),
    rules=(
        R(r"/mudchute_cow" + AUDIO, "cow", "a cow moos|a cow lowing|cattle mooing on a farm"),
        R(r"/(chicken\d*|chicken_standing\d*|rooster)" + AUDIO, "chicken",
          "a chicken clucks|hens clucking|a rooster and chickens"),
        R(r"/sheep\d*" + AUDIO, "sheep", "a sheep bleats|sheep baaing|the bleat of a sheep"),
        R(r"/wolf\d*" + AUDIO, "dog", "a wolf howls|a wolf growling|the howl of a wolf"),
        R(r"/(owl|hawk)" + AUDIO, "bird", "a bird of prey screeches|a bird calling in the forest|the cry of a hawk"),
        R(r"/bee\d*" + AUDIO, "insect", "bees buzzing|a swarm of bees|a buzzing bee"),
        R(r"/ele\d*" + AUDIO, "wild animal", "an elephant trumpets|an elephant calling|"
                                             "the trumpet of an elephant"),
        R(r"/horseman_walk", "horse", "horse hooves clip-clopping|a horse walking|hoofbeats"),
        R(r"/rain\d*" + AUDIO, "rain", "rain falling|steady rain|the patter of rain"),
        R(r"/wind\d*" + AUDIO, "wind", "wind blowing|gusts of wind|the wind howls"),
        R(r"/water\d*" + AUDIO, "water", "water flowing|a stream babbling|running water"),
        R(r"/(day|sunny_day|desertday)\d*\.ogg$", "nature ambience", "birds singing on a sunny day|"
                                                                     "a quiet day outdoors|countryside ambience"),
        R(r"/(night|nightime)\d*\.ogg$", "insect", "crickets chirping at night|night-time insects|"
                                                   "a warm night with crickets"),
        R(r"/wicker_fire", "fire", "a fire crackling|wood burning|flames crackling"),
        R(r"/anvil\d*" + AUDIO, "hammering", "a hammer striking an anvil|a blacksmith at an anvil|"
                                             "metal ringing under a hammer"),
        R(r"/(tech|magic)_building_fall", "crash", "a building collapses|a structure crashing down|"
                                                   "rubble falling"),
        R(r"/arrow_hit", "arrow", "an arrow hits its target|the thud of an arrow|an arrow striking"),
    ),
))

_add(Source(
    "lincity-ng-data", "lincity", "GPL-2+", "files", r"lincity-ng/sounds/.*" + AUDIO,
    rules=(
        R(r"/sportscroud", "crowd", "a cheering crowd at a stadium|sports fans cheering|a crowd roaring"),
        R(r"/market(full|med)", "crowd", "a busy market crowd|people chatting at a market|market chatter"),
        R(r"/railtrain", "train", "a train passing|a train rattling along the tracks|a train going by"),
        R(r"/trafic(high|low)", "car", "traffic passing|cars driving by on a road|road traffic"),
        R(r"/water\d", "water", "water flowing|running water|a stream"),
        R(r"/fire\d", "fire", "a fire burning|flames crackling|a blazing fire"),
        R(r"/rocketexplosion", "explosion", "a rocket explodes|a big explosion|an explosion"),
        R(r"/rockettakeoff", "aircraft", "a rocket launching|a rocket taking off with a roar|a rocket launch"),
        R(r"/blacksmith", "hammering", "a blacksmith hammering|hammer on an anvil|metalwork hammering"),
        R(r"/school\d", "crowd", "children playing in a schoolyard|kids shouting and playing|"
                                 "a playground full of children"),
        R(r"/(mill|windmill)\d", "machinery", "a mill grinding|machinery turning|a windmill creaking"),
        R(r"/industry(high|light)", "machinery", "factory machinery|industrial noise|machines clanking"),
    ),
))

_add(Source(
    "torcs-data", "torcs", "GPL-2+", "files", r"torcs/data/sound/.*" + AUDIO,
    rules=(
        R(r"/(skid|skid_tyres)\.wav", "car", "tyres screeching|a car skidding|tire squeal"),
        R(r"/skid_metal", "crash", "metal scraping along the road|a car scraping metal|grinding metal"),
        R(r"/(crash\d*|bottom_crash)\.wav", "crash", "a car crash|cars colliding|a crunching collision"),
        R(r"/out_of_road", "car", "a car driving off the road onto gravel|tyres on gravel|a car leaving the road"),
        R(r"/road-ride", "car", "a car rolling on the road|tyre noise on asphalt|a car driving"),
        R(r"/(backfire\w*|boom)\.wav", "car", "an engine backfires|a car backfiring|a loud exhaust pop"),
        R(r"/(turbo\d|gear_change\d)", "car", "a turbo whistling|a car changing gear|an engine revving"),
        R(r"/\w+\.wav$", "car", "a racing car engine|a car engine revving|a sports car engine"),
    ),
))

_add(Source(
    "supertuxkart-data", "stk", "CC-BY-SA-3.0", "files", r"supertuxkart/data/.*" + AUDIO,
    skip=(r"/music/", r"introcutscene", r"nolok", r"fanfare", r"race_", r"pre_start", r"start_race",
          r"energy_bar", r"grab_", r"goal_", r"gp_end", r"track_intro", r"wilhelm"),
    rules=(
        R(r"/rain\.ogg", "rain", "rain falling|steady rain|the sound of rain"),
        R(r"/thunder\.ogg", "thunder", "a clap of thunder|thunder rumbling|a thunderstorm"),
        R(r"/river_loop", "water", "a river flowing|running water|a babbling stream"),
        R(r"/waterfall_loop", "water", "a waterfall|water crashing down|a rushing waterfall"),
        R(r"/splash", "water", "a splash into water|something splashes|a big splash"),
        R(r"/exotic-birds", "bird", "exotic birds calling|tropical birds singing|birds in a jungle"),
        R(r"/cow\.ogg", "cow", "a cow moos|a cow mooing|cattle lowing"),
        R(r"/sheep\.ogg", "sheep", "sheep bleating|a sheep baas|the bleat of a sheep"),
        R(r"/steamlocomotive", "train", "a steam locomotive chugging|a steam train|steam engine puffing"),
        R(r"/airplane_jetengine", "aircraft", "a jet engine roaring|a jet plane|an airliner's jet engine"),
        R(r"/(car_accel|car_revup|engine_(large|small))", "car", "a car engine revving|a car accelerating|"
                                                                  "an engine revving up"),
        R(r"/horn\.ogg", "car", "a car horn honks|a horn beeping|a short honk"),
        R(r"/skid", "car", "tyres screeching|a car skidding|tire squeal"),
        R(r"/explosion", "explosion", "an explosion|a loud blast|something explodes"),
        R(r"/fireworks_show", "explosion", "fireworks exploding|a fireworks show|fireworks crackling"),
        R(r"/clock", "clock", "a clock ticking|the tick of a clock|tick tock"),
        R(r"/(anvil|hammer)\.ogg", "hammering", "a hammer striking metal|a hammer blow|clanging hammer"),
        R(r"/metal_clang", "metal clang", "a metal clang|metal striking metal|a clanging sound"),
        R(r"/machine_sound", "machinery", "machinery running|a machine humming|mechanical noise"),
        R(r"/crash\d*\.ogg", "crash", "a crash|something crashing|a collision"),
        R(r"/lenautile_restaurant", "crowd", "people chatting in a restaurant|restaurant chatter|"
                                             "a busy restaurant"),
    ),
))

_add(Source(
    "flightgear-data-base", "flightgear", "GPL-2+", "files", r"flightgear/(sounds|aircraft/c172p/sounds)/[^/]*" + AUDIO,
    skip=(r"mk-viii", r"tcas", r"beep", r"click", r"checklist", r"flarm", r"vario", r"avionics",
          r"radionoise", r"overspeed", r"stall", r"gear-hrn", r"whine", r"gyro", r"scroll", r"trim"),
    rules=(
        R(r"/thunder\d*\.wav", "thunder", "thunder rumbling|a clap of thunder|a thunderstorm"),
        R(r"/rain\.wav", "rain", "rain falling|steady rain|rain pouring down"),
        R(r"/rain-windshield", "rain", "rain hitting a windscreen|rain on glass|rain drumming on a window"),
        R(r"/wind(-8khz|\d*)\.wav", "wind", "wind blowing|a strong wind|wind howling"),
        R(r"/wave\.wav", "ocean", "waves on the shore|ocean waves|the sea"),
        R(r"/water-(fast|still)", "water", "water splashing against a hull|water rushing past|waves lapping"),
        R(r"/(helicopter|rotor|rotor-2blade|blade_vortex)\.wav", "aircraft", "a helicopter flying|helicopter "
                                                                             "rotor blades|a helicopter hovering"),
        R(r"/(jet|turbine_\w+|turbojet_fan)\.wav", "aircraft", "a jet engine roaring|a jet aircraft|a turbine "
                                                               "engine whining"),
        R(r"/(turboprop|prop|engine-prop|r-1535slow|p51d_\w+|wasp)\.wav", "aircraft",
          "a propeller plane engine|a piston aircraft engine|a propeller plane flying"),
        R(r"c172p/sounds/engine(-\w+)?\.wav", "aircraft", "a small plane's engine|a light aircraft engine "
                                                          "running|a propeller engine"),
        R(r"/(engstart|cranking|starter_\w+|exhaust_\w+|coughing)\.wav", "aircraft",
          "an aircraft engine starting|a plane engine cranking|an engine spluttering to life"),
        R(r"/door(-|_)(?P<act>opening|closing|close)", "door", "a car door closing|a door shutting|a door"),
        R(r"/(window|glove_compartment)-?_?(?P<act>opening|closing)", "door", "a small hatch {act}|"
                                                                              "a compartment door|a latch"),
        R(r"/tires-screech", "car", "tyres screeching|a skid|tire squeal on a runway"),
        R(r"/tires-rolling", "car", "tyres rolling on the ground|wheels rolling|rolling tyres"),
        R(r"/gatling", "gunshot", "a machine gun firing|rapid gunfire|a gatling gun"),
        R(r"/crash\.wav", "crash", "a crash|a heavy crash|a violent impact"),
        R(r"/rumble(-rough)?\.wav", "car", "wheels rumbling on a rough surface|a rumbling vehicle|rumble"),
    ),
))

_add(Source(
    "wesnoth-1.16-data", "wesnoth", "GPL-2+", "files", r"wesnoth/.*/sounds/.*" + AUDIO,
    rules=(
        R(r"/wolf-growl", "dog", "a wolf growling|a snarling wolf|a wolf snarls"),
        R(r"/horse-(elf-)?canter", "horse", "a horse cantering|hooves galloping|a galloping horse"),
        R(r"/horse-(hit|die)", "horse", "a horse neighs|a horse whinnying in pain|a horse neighing"),
        R(r"/ambient/birds", "bird", "birds singing|birdsong in a forest|birds chirping"),
        R(r"/(campfire|fire)\.(ogg|wav)", "fire", "a campfire crackling|a fire burning|crackling flames"),
        R(r"/bell\.wav", "bell", "a bell rings|a ringing bell|a bell chiming"),
        R(r"/gunshot\.wav", "gunshot", "a gunshot|a gun firing|a shot"),
        R(r"/explosion\.ogg", "explosion", "an explosion|a loud blast|something explodes"),
        R(r"/(bow|crossbow)\.ogg", "arrow", "an arrow shot from a bow|the twang of a bow|an archer firing"),
        R(r"/wardrums", "musical instrument", "drums beating|war drums pounding|a drum rhythm"),
        R(r"/(sword|mace|axe)\.ogg", "metal clang", "a sword strike|metal clashing|a blade clanging"),
        R(r"/rumble\.ogg", "thunder", "a deep rumble|a rumble like distant thunder|a low rumble"),
        R(r"/cave-in", "crash", "rocks collapsing|a cave-in|rubble crashing down"),
        R(r"/ship\.ogg", "boat", "a ship creaking on the waves|a wooden ship at sea|a sailing ship"),
    ),
))

_add(Source(
    "hedgewars-data", "hedgewars", "GPL-2", "files", r"hedgewars/data/sounds/[^/]*" + AUDIO,
    rules=(
        R(r"/sheep\.ogg", "sheep", "a sheep bleats|a sheep baa|the bleat of a sheep"),
        R(r"/(bee|beewater)\.ogg", "insect", "a bee buzzing|a buzzing insect|a bee flying"),
        R(r"/(shotgunfire|gun|minigun)\.ogg", "gunshot", "a shotgun firing|a gunshot|guns firing"),
        R(r"/(explosion|grenadeimpact|mineimpact)\.ogg", "explosion", "an explosion|a grenade explodes|a blast"),
        R(r"/(splash|droplet\d)\.ogg", "water", "a splash|water splashing|a drop into water"),
        R(r"/(hammer|pickhammer)\.ogg", "hammering", "a hammer strike|hammering|a hammer blow"),
        R(r"/(plane|rcplane)\.ogg", "aircraft", "a propeller plane flying over|a small plane|an aircraft flying"),
        R(r"/steps\.ogg", "footsteps", "footsteps|someone walking|steps"),
        R(r"/whistle\.ogg", "siren", "a whistle blown|a referee's whistle|a sharp whistle"),
    ),
))

_add(Source(
    "supertux-data", "supertux", "GPL-2+", "files", r"supertux2/sounds/[^/]*" + AUDIO,
    rules=(
        R(r"/rain\.wav", "rain", "rain falling|steady rain|the patter of rain"),
        R(r"/thunder\.wav", "thunder", "a clap of thunder|thunder rumbling|a thunderstorm"),
        R(r"/waterfall\.wav", "water", "a waterfall|rushing water|water falling"),
        R(r"/splash\.(ogg|wav)", "water", "a splash|water splashing|something falls into water"),
        R(r"/explosion\.wav", "explosion", "an explosion|a loud blast|something explodes"),
        R(r"/(fireworks|firecracker)", "explosion", "fireworks bursting|firecrackers popping|fireworks"),
        R(r"/(fire\.ogg|flame\.wav)", "fire", "a fire burning|flames|a crackling fire"),
        R(r"/door\.wav", "door", "a door opening|a door|a creaking door"),
        R(r"/savebell", "bell", "a bell rings|a small bell|a chiming bell"),
        R(r"/ticking", "clock", "a clock ticking|tick tock|the tick of a clock"),
        R(r"/phone", "household", "a telephone ringing|a phone rings|an old telephone bell"),
        R(r"/saw\.wav", "sawing", "a saw|sawing|a saw cutting"),
    ),
))

_add(Source(
    "lmms-common", "lmms", "GPL-2+", "files", r"lmms/samples/.*" + AUDIO,
    rules=(
        R(r"instruments/(?P<inst>cello|church_organ|e_organ|flute|harpsichord|piano|trumpet|steel_guitar)",
          "musical instrument", "{inst} playing|a few notes on {inst}|the sound of {inst}"),
        R(r"instruments/violin", "musical instrument", "a violin playing|a few notes on a violin|"
                                                       "the sound of a violin"),
        R(r"instruments/e_piano", "musical instrument", "an electric piano chord|a chord on an electric piano|"
                                                        "electric piano"),
        R(r"instruments/bassslap", "musical instrument", "a slapped bass guitar|slap bass|a bass guitar note"),
        R(r"latin/latin_guitar", "musical instrument", "a latin guitar riff|a guitar strumming|an acoustic guitar"),
        R(r"latin/latin_brass", "musical instrument", "a brass section playing|trumpets playing a latin riff|"
                                                      "brass instruments"),
        R(r"drums/(bassdrum_acoustic|snare_acoustic|tom\d|tom_(hi|low|mid)|ride|crash|shaker)",
          "musical instrument", "a drum hit|a single drum beat|percussion"),
        R(r"misc/applause", "crowd", "an audience applauds|people clapping|a round of applause"),
        R(r"misc/raving_crowd", "crowd", "a crowd cheering|a cheering audience|a roaring crowd"),
        R(r"misc/(dong|metalish_dong)", "bell", "a bell dongs|a deep bell strike|a ringing bell"),
        R(r"stringsnpads/bell_choir", "bell", "a choir of bells|bells ringing together|handbells ringing"),
        R(r"effects/wind_chimes", "bell", "wind chimes tinkling|wind chimes in a breeze|chimes ringing"),
        R(r"misc/metronome", "clock", "a metronome ticking|the tick of a metronome|a steady ticking"),
        R(r"effects/explode", "explosion", "an explosion|a loud blast|something explodes"),
    ),
))

_add(Source(
    "sound-theme-freedesktop", "freedesktop", "CC-BY-SA-3.0", "files", r"sounds/freedesktop/stereo/.*\.oga$",
    rules=(
        R(r"/alarm-clock-elapsed", "bell", "an alarm clock bell ringing|an alarm bell rings|a ringing alarm clock"),
        R(r"/bell\.oga", "bell", "a bell dings|a small bell ringing|a bright bell chime"),
        R(r"/phone-incoming-call", "bell", "a telephone ringing|a phone rings|an incoming call ringing"),
        R(r"/camera-shutter", "household", "a camera shutter clicks|the click of a camera|taking a photo"),
    ),
))

DEFAULT_SOURCES = tuple(SOURCES)
SMALL_SOURCES = ("openttd-opensfx", "minetest-data")


def opensfx_rule(index: int, title: str) -> tuple[Rule, dict[str, str]] | None:
    """The rule for OpenSFX entry `index` (None: not an everyday sound, e.g. 'Toyland' effects)."""
    hit = OPENSFX.get(index)
    if hit is None:
        return None
    return Rule(f"^{index:02d}$", hit[0], hit[1]), {"title": title}


_OPENSFX_LICENSES = (
    ("Attribution-ShareAlike", "CC-BY-SA-3.0"),
    ("Attribution", "CC-BY-3.0"),
    ("Zero", "CC0-1.0"),
)


def opensfx_title_and_license(name: str) -> tuple[str, str, str]:
    """Split an OpenSFX entry name into (title, credit, license): '"Ship horn". Original ... License: CC...'."""
    m = re.match(r'\s*"([^"]*)"\.?\s*(.*)$', name)
    title, rest = (m.group(1), m.group(2)) if m else (name, "")
    credit, _, license_text = rest.partition("License:")
    license_name = next((short for key, short in _OPENSFX_LICENSES if key in license_text), "CC-BY-3.0")
    return title.strip(), credit.strip().rstrip("."), license_name


def source_or_error(name: str) -> Source:
    """Look a source up by package name or short name, with a one-line error listing the choices."""
    from t2a_edge.core.errors import T2AError

    for source in SOURCES.values():
        if name in (source.package, source.short):
            return source
    raise T2AError(f"unknown source '{name}' (choose from: {', '.join(SOURCES)})")

