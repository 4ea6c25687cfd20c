"""One small real-looking story the digest and follow tests share: three outlets on a flood, one giving another
death toll (a conflict), two quoting the mayor, each adding something of its own."""

from __future__ import annotations

SHARED = "Rescue teams evacuated 3,000 residents from Novi Sad after the Danube burst its banks."
QUOTE = '"We have never seen the water this high in our lifetime," said Mayor Milan Djuric.'
ARTICLES = [
    ("Alpha Wire", "2024-05-06T08:00:00Z", "Danube floods kill 12 in Serbia",
     f"Floods in the Danube valley killed 12 people on Monday, officials said. {SHARED} {QUOTE} "
     "The regional government announced emergency funding of $40 million for the flooded towns."),
    ("Beta News", "2024-05-06T09:30:00Z", "Serbia floods: 15 dead as Danube rises",
     f"Floods in the Danube valley killed 15 people on Monday, officials said. {SHARED} "
     "The army sent two helicopters to the area to pick up stranded villagers."),
    ("Reuters", "2024-05-06T11:00:00Z", "Deadly Danube floods hit Serbia",
     f"{SHARED} Floods in the Danube valley killed 12 people on Monday, according to officials. {QUOTE}"),
]
