"""Russia's regions and the time zone of each, for a lead's delivery region (issue 15).

A shop knows where an order goes: its export or its API call carries the delivery region,
as an ISO 3166-2 code (``RU-KGD``) or as a name (``Калининградская область``, ``г. Москва``).
That names the customer's zone far better than a mobile number, which names all of Russia.

The zones are tz-database zones with the region's current offset (2026): Saratov, Ulyanovsk
and Astrakhan are UTC+4 since 2016, Volgograd UTC+3 since 2020. A region spanning several
zones (Sakha) maps to the zone of most of its people. Names are matched after
``normalise``: case, ``ё``, punctuation and the generic words (область, край, республика,
город, ...) do not matter, so ``Калининградская обл.`` and ``калининградская область``
are one region.
"""

from __future__ import annotations

import functools
import re
from types import MappingProxyType

# code: (zone, names as normalise() leaves them; the regional capital where it is common)
_REGIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "RU-AD": ("Europe/Moscow", ("адыгея", "майкоп")),
    "RU-AL": ("Asia/Barnaul", ("алтай", "горно алтайск")),
    "RU-ALT": ("Asia/Barnaul", ("алтайский", "барнаул")),
    "RU-AMU": ("Asia/Yakutsk", ("амурская", "благовещенск")),
    "RU-ARK": ("Europe/Moscow", ("архангельская", "архангельск")),
    "RU-AST": ("Europe/Astrakhan", ("астраханская", "астрахань")),
    "RU-BA": ("Asia/Yekaterinburg", ("башкортостан", "башкирия", "уфа")),
    "RU-BEL": ("Europe/Moscow", ("белгородская", "белгород")),
    "RU-BRY": ("Europe/Moscow", ("брянская", "брянск")),
    "RU-BU": ("Asia/Irkutsk", ("бурятия", "улан удэ")),
    "RU-CE": ("Europe/Moscow", ("чеченская", "чечня", "грозный")),
    "RU-CHE": ("Asia/Yekaterinburg", ("челябинская", "челябинск")),
    "RU-CHU": ("Asia/Anadyr", ("чукотский", "чукотка", "анадырь")),
    "RU-CU": ("Europe/Moscow", ("чувашская", "чувашия", "чебоксары")),
    "RU-DA": ("Europe/Moscow", ("дагестан", "махачкала")),
    "RU-IN": ("Europe/Moscow", ("ингушетия", "магас")),
    "RU-IRK": ("Asia/Irkutsk", ("иркутская", "иркутск")),
    "RU-IVA": ("Europe/Moscow", ("ивановская", "иваново")),
    "RU-KAM": ("Asia/Kamchatka", ("камчатский", "камчатка", "петропавловск камчатский")),
    "RU-KB": ("Europe/Moscow", ("кабардино балкарская", "кабардино балкария", "нальчик")),
    "RU-KC": ("Europe/Moscow", ("карачаево черкесская", "карачаево черкесия", "черкесск")),
    "RU-KDA": ("Europe/Moscow", ("краснодарский", "краснодар", "кубань", "сочи")),
    "RU-KEM": ("Asia/Novokuznetsk", ("кемеровская", "кузбасс", "кемерово", "новокузнецк")),
    "RU-KGD": ("Europe/Kaliningrad", ("калининградская", "калининград", "kaliningrad")),
    "RU-KGN": ("Asia/Yekaterinburg", ("курганская", "курган")),
    "RU-KHA": ("Asia/Vladivostok", ("хабаровский", "хабаровск")),
    "RU-KHM": ("Asia/Yekaterinburg", ("ханты мансийский", "ханты мансийский югра", "югра", "хмао")),
    "RU-KIR": ("Europe/Kirov", ("кировская", "киров")),
    "RU-KK": ("Asia/Krasnoyarsk", ("хакасия", "абакан")),
    "RU-KL": ("Europe/Moscow", ("калмыкия", "элиста")),
    "RU-KLU": ("Europe/Moscow", ("калужская", "калуга")),
    "RU-KO": ("Europe/Moscow", ("коми", "сыктывкар")),
    "RU-KOS": ("Europe/Moscow", ("костромская", "кострома")),
    "RU-KR": ("Europe/Moscow", ("карелия", "петрозаводск")),
    "RU-KRS": ("Europe/Moscow", ("курская", "курск")),
    "RU-KYA": ("Asia/Krasnoyarsk", ("красноярский", "красноярск")),
    "RU-LEN": ("Europe/Moscow", ("ленинградская",)),
    "RU-LIP": ("Europe/Moscow", ("липецкая", "липецк")),
    "RU-MAG": ("Asia/Magadan", ("магаданская", "магадан")),
    "RU-ME": ("Europe/Moscow", ("марий эл", "йошкар ола")),
    "RU-MO": ("Europe/Moscow", ("мордовия", "саранск")),
    "RU-MOS": ("Europe/Moscow", ("московская", "подмосковье")),
    "RU-MOW": ("Europe/Moscow", ("москва", "moscow")),
    "RU-MUR": ("Europe/Moscow", ("мурманская", "мурманск")),
    "RU-NEN": ("Europe/Moscow", ("ненецкий", "нарьян мар")),
    "RU-NGR": ("Europe/Moscow", ("новгородская", "великий новгород")),
    "RU-NIZ": ("Europe/Moscow", ("нижегородская", "нижний новгород")),
    "RU-NVS": ("Asia/Novosibirsk", ("новосибирская", "новосибирск")),
    "RU-OMS": ("Asia/Omsk", ("омская", "омск")),
    "RU-ORE": ("Asia/Yekaterinburg", ("оренбургская", "оренбург")),
    "RU-ORL": ("Europe/Moscow", ("орловская", "орел")),
    "RU-PER": ("Asia/Yekaterinburg", ("пермский", "пермь")),
    "RU-PNZ": ("Europe/Moscow", ("пензенская", "пенза")),
    "RU-PRI": ("Asia/Vladivostok", ("приморский", "приморье", "владивосток")),
    "RU-PSK": ("Europe/Moscow", ("псковская", "псков")),
    "RU-ROS": ("Europe/Moscow", ("ростовская", "ростов на дону")),
    "RU-RYA": ("Europe/Moscow", ("рязанская", "рязань")),
    "RU-SA": ("Asia/Yakutsk", ("саха", "саха якутия", "якутия", "якутск")),
    "RU-SAK": ("Asia/Sakhalin", ("сахалинская", "сахалин", "южно сахалинск")),
    "RU-SAM": ("Europe/Samara", ("самарская", "самара", "тольятти")),
    "RU-SAR": ("Europe/Saratov", ("саратовская", "саратов")),
    "RU-SE": ("Europe/Moscow", ("северная осетия", "северная осетия алания", "владикавказ")),
    "RU-SMO": ("Europe/Moscow", ("смоленская", "смоленск")),
    "RU-SPE": ("Europe/Moscow", ("санкт петербург", "петербург", "спб", "saint petersburg")),
    "RU-STA": ("Europe/Moscow", ("ставропольский", "ставрополь")),
    "RU-SVE": ("Asia/Yekaterinburg", ("свердловская", "екатеринбург")),
    "RU-TA": ("Europe/Moscow", ("татарстан", "казань")),
    "RU-TAM": ("Europe/Moscow", ("тамбовская", "тамбов")),
    "RU-TOM": ("Asia/Tomsk", ("томская", "томск")),
    "RU-TUL": ("Europe/Moscow", ("тульская", "тула")),
    "RU-TVE": ("Europe/Moscow", ("тверская", "тверь")),
    "RU-TY": ("Asia/Krasnoyarsk", ("тыва", "тува", "кызыл")),
    "RU-TYU": ("Asia/Yekaterinburg", ("тюменская", "тюмень")),
    "RU-UD": ("Europe/Samara", ("удмуртская", "удмуртия", "ижевск")),
    "RU-ULY": ("Europe/Ulyanovsk", ("ульяновская", "ульяновск")),
    "RU-VGG": ("Europe/Volgograd", ("волгоградская", "волгоград")),
    "RU-VLA": ("Europe/Moscow", ("владимирская", "владимир")),
    "RU-VLG": ("Europe/Moscow", ("вологодская", "вологда")),
    "RU-VOR": ("Europe/Moscow", ("воронежская", "воронеж")),
    "RU-YAN": ("Asia/Yekaterinburg", ("ямало ненецкий", "янао", "салехард")),
    "RU-YAR": ("Europe/Moscow", ("ярославская", "ярославль")),
    "RU-YEV": ("Asia/Vladivostok", ("еврейская", "биробиджан")),
    "RU-ZAB": ("Asia/Chita", ("забайкальский", "чита")),
}
# Not ISO 3166-2:RU codes, but delivered to by Russian shops: by name only.
_NAMED_ONLY: dict[str, tuple[str, ...]] = {
    "Europe/Simferopol": ("крым", "симферополь", "севастополь"),
}

#: ISO 3166-2 code -> IANA zone
REGION_ZONES = MappingProxyType({code: zone for code, (zone, _) in _REGIONS.items()})

_GENERIC = frozenset(
    "область обл край республика респ автономный автономная автономного округ ао г гор город"
    " федерального значения федеральный the oblast krai region republic city".split()
)
_WORD = re.compile(r"[^\w]+")
_CODE = re.compile(r"^[A-Za-z]{2}-[A-Za-z0-9]{1,3}$")


def normalise(name: str) -> str:
    """Lower case, ``ё`` as ``е``, words only, without the generic ones: the lookup key."""
    words = _WORD.sub(" ", name.lower().replace("ё", "е").replace("_", " ")).split()
    return " ".join(word for word in words if word not in _GENERIC)


_BY_NAME: dict[str, tuple[str, str]] = {
    normalise(name): (code, zone) for code, (zone, names) in _REGIONS.items() for name in names
}
for _zone, _names in _NAMED_ONLY.items():
    for _name in _names:
        _BY_NAME[normalise(_name)] = (_name.capitalize(), _zone)


class UnknownRegion(ValueError):
    """A region dialerd cannot place in a time zone; the message says what to send instead."""


@functools.lru_cache(maxsize=1024)  # an import repeats a few regions a million times
def region_zone(text: str) -> tuple[str, str]:
    """``(region as stored, IANA zone)`` of a code or a name; UnknownRegion otherwise.

    A known code or name is stored as its ISO 3166-2 code, so every spelling of one region
    reads the same in the store.
    """
    value = text.strip()
    if _CODE.match(value):
        code = value.upper()
        if code in REGION_ZONES:
            return code, REGION_ZONES[code]
        raise UnknownRegion(
            f"{value!r}: no time zone known for this region code"
            " (Russian regions by ISO 3166-2 code, e.g. RU-KGD; or send timezone)"
        )
    found = _BY_NAME.get(normalise(value))
    if found is None:
        raise UnknownRegion(
            f"{value[:60]!r}: not a region dialerd knows"
            " (an ISO 3166-2 code such as RU-KGD or a Russian region's name; or send timezone)"
        )
    return found
