"""Deterministic generation of extra fictional articles, for benchmarks (>= 2,000 articles).

Each generated article gets a unique title, slug and body. Bodies are assembled from
section-specific and generic sentence templates (drawn without replacement, shuffled) with
fillers (places, people, numbers, topics), so two generated articles share little text.
Everything derives from one ``random.Random(seed)``: the same seed gives the same site.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from .content import SECTIONS, Article, slugify

PLACES = [
    "Port Calder", "Harlow Bay", "Kestrel Point", "Marrowgate", "Dunmore", "Lindvik", "Belmira", "Halvsand",
    "Orvala", "Ashby Cross", "Brennock", "Corran", "Eastwick Fen", "Fallowmere", "Glenrith", "Holtby",
    "Inverlay", "Juniper Hill", "Kirkhaven", "Larchmont", "Millbrook", "Northgate", "Oakhurst", "Pellham",
    "Quarry End", "Redmarsh", "Saltcoats", "Thornbury", "Upper Elsby", "Valemouth", "Westerby", "Yarrowdale",
    "Brightwater", "Cobham Sands", "Dovecote", "Ferriby", "Greywell", "Hartlepoint", "Ivybridge Vale", "Skerrow",
]
FIRST_NAMES = [
    "Agnes", "Anton", "Beatrix", "Bjorn", "Carla", "Dario", "Edda", "Emil", "Freya", "Gustav", "Helga", "Ivo",
    "Jana", "Kasper", "Lena", "Magnus", "Nora", "Osman", "Pia", "Quentin", "Rosa", "Sven", "Tilde", "Ulrik",
    "Vera", "Wilhelm", "Yara", "Zofia", "Arvid", "Brigitte", "Casimir", "Dagny", "Einar", "Fenna", "Goran",
    "Hedda", "Ilse", "Joakim", "Kaija", "Leif",
]
LAST_NAMES = [
    "Aalberg", "Bergstrom", "Castellano", "Dahlgren", "Eriksen", "Falk", "Granlund", "Hovland", "Isaksen",
    "Jovanovic", "Karlsen", "Lindahl", "Moberg", "Nyhus", "Ostrowski", "Persson", "Quist", "Rasmussen",
    "Sandberg", "Tveit", "Ulven", "Vinter", "Wahl", "Ystad", "Zeller", "Abernethy", "Blom", "Corrigan",
    "Dunne", "Ekdahl", "Fjeld", "Gallagher", "Holmqvist", "Ivers", "Jarvik", "Kowal", "Lund-Hansen",
    "Mercer", "Norberg", "Ohlsson",
]
REPORTERS = [
    "Maren Okafor", "Tomasz Brandt", "Priya Venkataraman", "Elliot Marsh", "Sofia Lindqvist",
    "Daniel Achterberg", "Nadia Haddad", "Oliver Quaye", "Hannah Kessler", "Rui Tavares", "Amara Nwosu",
    "Claire Dumont", "James Whitcombe", "Greta Solberg", "Felix Moreau", "Ayla Demir", "Niklas Strand",
    "Ruth Okonkwo", "Paulo Serra", "Ida Marchetti",
]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]

LEADINS = ["Meanwhile,", "At the same time,", "In the meantime,", "For now,", "Separately,", "As things stand,",
           "Even so,", "Still,"]

GENERIC = [
    "The decision drew a mixed response from residents of {place}, some of whom had campaigned on the issue for years.",
    "A spokesperson for {org} said further details would be published within {num} days.",
    "Local newspapers in {place} reported that the figures had been circulating among officials for several weeks.",
    "Critics said the timetable was unrealistic and that similar promises had been broken before.",
    "The announcement came {num} days after a public meeting in {place} that drew more than {big} people.",
    "{person}, who has followed the matter closely, said the real test would come when the money had to be spent.",
    "Officials declined to say how many staff would be involved, citing ongoing negotiations.",
    "The figures were compiled from records held by {org} and checked against data from the statistics office.",
    "Opinion polls suggest that about {pct} per cent of voters regard the issue as important.",
    "A review of the first year's results is expected to be presented in {month}.",
    "Several community groups in {place} said they had not been consulted before the plan was drawn up.",
    "The proposal will be debated again when the committee reconvenes after the {season} break.",
    "Independent experts said the estimates were plausible but depended on assumptions about interest rates.",
    "Documents seen by the Courier show that the idea was first discussed in {month} of last year.",
    "Trade unions said they would study the details before deciding on their response.",
    "Some business owners in {place} welcomed the move, while others feared higher costs.",
    "It is not the first time the question has divided opinion in {place}.",
    "The cost has been put at {money} million crowns, spread over {num} years.",
    "Residents will be able to comment on the plans online until the end of {month}.",
    "A similar scheme in {place2} was abandoned in {year} after costs rose sharply.",
    "Nobody from {org} was available to comment on Sunday evening.",
    "The changes are due to take effect on the first of {month}.",
    "Opposition councillors in {place} called for an independent audit of the process.",
    "Those involved say the coming weeks will show whether the compromise holds.",
    "The move follows a report by {org} that found long delays and uneven standards across the region.",
]

QUOTES = [
    "We have waited long enough, and people here want to see spades in the ground",
    "This is a sensible first step, but it is only a first step",
    "Nobody should pretend that this will be cheap or quick",
    "The numbers simply do not add up, and everyone in the room knows it",
    "We listened to the concerns we heard and we changed the plan",
    "It is the people with the least who will feel this first",
    "I have never seen so much interest in a local meeting",
    "We are confident the timetable can be met if everyone plays their part",
    "There are still questions that deserve straight answers",
    "For a town like ours, this makes a real difference",
    "The hard work starts now, not when the cameras leave",
    "We will judge the outcome by results, not by announcements",
    "This was a close call, and reasonable people disagreed",
    "Our members are worried, and they have every right to be",
    "It is a good day, but I would not call it a victory yet",
    "The evidence was clear long before anyone acted on it",
]

KITS = {
    "politics": dict(
        actors=[("Assembly", "the Assembly"), ("Ministers", "ministers"), ("{place} council", "the council in {place}"),
                ("Opposition", "the opposition"), ("Coalition", "the governing coalition"),
                ("Regional mayors", "a group of regional mayors"), ("Election watchdog", "the electoral commission"),
                ("Finance committee", "the Assembly's finance committee"), ("Justice ministry", "the justice ministry")],
        verbs=[("backs", "backed"), ("rejects", "rejected"), ("delays", "delayed"), ("approves", "approved"),
               ("questions", "questioned"), ("scraps", "scrapped"), ("revives", "revived"), ("defends", "defended"),
               ("reviews", "reviewed"), ("unveils", "unveiled")],
        objects=["plan for {topic}", "{topic} reform", "funding for {topic}", "review of {topic}",
                 "cuts to {topic}", "new rules on {topic}", "inquiry into {topic}"],
        topics=["school meals", "rural bus routes", "police stations", "care homes", "bridge repairs",
                "library hours", "ferry subsidies", "hospital parking", "youth clubs", "rent controls", "road tolls",
                "flood barriers", "district heating", "cycle lanes", "ambulance cover", "dental clinics",
                "pension indexation", "student grants", "broadband in villages", "prison staffing"],
        tails=["in {place}", "after {place} protest", "before summer recess", "despite warnings", "after late-night vote",
               "amid budget pressure", ""],
        orgs=["the interior ministry", "the Council of Regions", "the national audit office", "the ombudsman",
              "the association of municipalities", "the finance ministry"],
        roles=["a member of the Assembly", "the deputy mayor", "a councillor for {place}", "a former minister",
               "the committee's vice-chair", "a campaigner from {place}"],
        tags=["assembly", "government", "local politics", "regions", "public services"],
        sentences=[
            "The vote in the chamber was {num} to {num2}, with several members absent.",
            "Ministers argue that {topic} in {place} have been underfunded for a decade.",
            "The opposition accused the government of announcing {topic} changes without any costing.",
            "A committee report last {month} warned that {topic} were stretched in at least {num} municipalities.",
            "The bill now passes to the Council of Regions, which can suggest amendments but not block it.",
            "Members from rural constituencies said {topic} mattered more to their voters than any national issue.",
            "The governing coalition needs the support of at least one opposition party to pass the measure.",
            "Officials in {place} estimate that the change would affect around {big} households.",
            "Party strategists privately concede that {topic} could become an issue at the next election.",
            "The minister responsible is expected to answer questions in the Assembly next {weekday}.",
            "Campaigners delivered a petition with {big} signatures to the Assembly building last week.",
            "A previous attempt to change {topic} was abandoned in {year} after a backlash from mayors.",
            "Legal advisers to the committee raised doubts about whether the proposal was compatible with the constitution.",
            "The junior coalition partner said it would only support the plan if {topic} in {place2} were included.",
            "Regional officials said they had learned of the decision from the evening news.",
            "Turnout at the public hearing in {place} was the highest the council could remember.",
            "The government's own advisers had recommended a slower timetable.",
            "Polling suggests that voters in {place} are split almost evenly on the question.",
        ],
    ),
    "world": dict(
        actors=[("Osterlund", "Osterlund's government"), ("Maravia", "Maravia's government"),
                ("Kalmar", "the Kalmar Federation"), ("Regional bloc", "the regional bloc"),
                ("Border states", "the border states"), ("UN agency", "a United Nations agency"),
                ("Aid groups", "aid organisations"), ("Neighbours", "neighbouring governments")],
        verbs=[("agrees", "agreed"), ("suspends", "suspended"), ("expands", "expanded"), ("signs", "signed"),
               ("pledges", "pledged"), ("postpones", "postponed"), ("extends", "extended"), ("resumes", "resumed")],
        objects=["deal on {topic}", "talks on {topic}", "aid for {topic}", "pact on {topic}", "funding for {topic}",
                 "monitoring of {topic}"],
        topics=["river shipping", "border crossings", "grain exports", "fishing rights", "refugee shelters",
                "power lines", "mountain roads", "earthquake relief", "vaccine supplies", "rail freight",
                "water sharing", "customs checks", "flood defences", "wildfire crews", "student exchanges",
                "air traffic", "gas storage", "coastal patrols", "landmine clearance", "port security"],
        tails=["near {place}", "after {place} talks", "as winter nears", "despite objections", "after long delay", ""],
        orgs=["the foreign ministry", "the regional bloc's secretariat", "the Red Crescent", "the World Food Programme",
              "the border agency", "the coast guard"],
        roles=["a diplomat in {place}", "the foreign minister", "an aid worker in {place}", "a regional governor",
               "a spokeswoman for the border agency", "a senior official"],
        tags=["diplomacy", "europe", "osterlund", "maravia", "kalmar", "humanitarian"],
        sentences=[
            "Diplomats said the text had been agreed after {num} rounds of talks in {place}.",
            "The agreement covers {topic} for an initial period of {num} years.",
            "Aid workers in {place} said conditions had deteriorated sharply since {month}.",
            "The foreign ministers of the {num} countries are due to meet again before the end of the year.",
            "Officials in Osterlund described the talks as difficult but constructive.",
            "Maravia's parliament must still approve the arrangement, and several parties have reservations.",
            "Satellite images published last week showed long queues of lorries near {place}.",
            "The Kalmar delegation pressed for stronger enforcement, according to two people present.",
            "Around {big} people are thought to be affected in the border region around {place}.",
            "The last comparable agreement on {topic} collapsed in {year} amid mutual accusations.",
            "Observers said the deal left the hardest questions for later.",
            "Local authorities in {place} have asked for emergency funds to cope with the strain.",
            "The United Nations welcomed the announcement and offered technical help.",
            "Shipping companies said they would wait for the details before changing their routes.",
            "Residents of {place} told the Courier they had heard nothing from officials for weeks.",
            "The government in Sarnhold said it would respect the outcome of any independent review.",
            "Journalists were not allowed into the final session of the meeting.",
            "Both sides said they would publish the full text of the agreement within a week.",
        ],
    ),
    "business": dict(
        actors=[("Northmere Energy", "Northmere Energy"), ("Calder Transit", "Calder Transit"),
                ("Fresko", "the supermarket chain Fresko"), ("Paywise", "the payments company Paywise"),
                ("Calder Marine", "the Calder Marine shipyard"), ("Lindpay", "the Kalmar payments group Lindpay"),
                ("Nordhandel", "the retailer Nordhandel"), ("Vostrand Timber", "Vostrand Timber"),
                ("Elsby Steel", "Elsby Steel"), ("Brennock Dairies", "Brennock Dairies")],
        verbs=[("expands", "expanded"), ("cuts", "cut"), ("delays", "delayed"), ("doubles", "doubled"),
               ("reviews", "reviewed"), ("sells", "sold"), ("launches", "launched"), ("freezes", "froze"),
               ("restarts", "restarted")],
        objects=["{topic}", "investment in {topic}", "spending on {topic}", "plans for {topic}", "stake in {topic}"],
        topics=["its logistics arm", "a new warehouse", "night deliveries", "store openings", "a battery plant",
                "its app", "wind contracts", "export sales", "a sawmill", "the dairy line", "its call centre",
                "a recycling unit", "its bond programme", "a data centre", "freight routes", "the staff canteen scheme",
                "apprenticeships", "its leasing business", "a cold store", "research spending"],
        tails=["in {place}", "after weak quarter", "as costs rise", "amid union talks", "after record year", ""],
        orgs=["the competition authority", "the employers' federation", "the central bank", "the stock exchange",
              "the statistics office", "the chamber of commerce"],
        roles=["an analyst at a bank in Port Calder", "the company's finance director", "a shop steward in {place}",
               "a fund manager", "an economist", "the chief executive"],
        tags=["business", "economy", "jobs", "companies", "markets"],
        sentences=[
            "The shares rose {pct2} per cent in early trading in Port Calder.",
            "The company employs around {big} people, {num} hundred of them in {place}.",
            "Revenue rose to {money} million crowns in the last quarter, slightly below analysts' forecasts.",
            "Analysts said the move reflected pressure from shareholders to improve margins.",
            "Suppliers in {place} said they had been told about the change only on {weekday}.",
            "Management said the decision on {topic} would be reviewed again in {month}.",
            "Energy and wage costs have risen faster than prices, squeezing profits across the sector.",
            "The company last changed its strategy in {year}, when it sold two divisions.",
            "Unions said they would seek guarantees that no jobs would be lost in {place}.",
            "Customers should not notice any change in the short term, the company said.",
            "The board will propose a dividend of {pct2} crowns a share at the annual meeting.",
            "Competitors in {place2} are watching closely, according to people in the industry.",
            "Borrowing costs for medium-sized companies remain well above the level of three years ago.",
            "The company said orders had picked up in {month} after a slow start to the year.",
            "Local officials in {place} said they hoped the investment would attract other firms.",
            "Credit rating agencies have kept the company's outlook stable.",
            "Exports account for about {pct} per cent of the group's sales.",
            "The plan still needs approval from the competition authority.",
        ],
    ),
    "climate": dict(
        actors=[("Scientists", "scientists"), ("Energy agency", "the energy agency"),
                ("Environment ministry", "the environment ministry"), ("{place} council", "the council in {place}"),
                ("Conservationists", "conservation groups"), ("Water company", "the regional water company"),
                ("Researchers", "researchers"), ("Farmers", "farmers' organisations")],
        verbs=[("map", "mapped"), ("restore", "restored"), ("expand", "expanded"), ("warn over", "warned over"),
               ("monitor", "monitored"), ("fund", "funded"), ("test", "tested"), ("protect", "protected")],
        objects=["{topic}", "{topic} programme", "plans for {topic}", "study of {topic}"],
        topics=["salt marshes", "peat bogs", "river otters", "solar roofs", "tidal meadows", "urban trees",
                "bee colonies", "groundwater levels", "coastal dunes", "heat islands", "kelp forests",
                "wetland birds", "rainwater storage", "wind turbines", "soil carbon", "glacier melt",
                "oyster reefs", "green roofs", "storm drains", "forest fires"],
        tails=["near {place}", "after hottest summer", "along Vostrand coast", "in {place}", "as seas warm", ""],
        orgs=["the marine research institute", "the meteorological institute", "the energy agency",
              "the environment ministry", "the national parks board", "the water company"],
        roles=["an ecologist in {place}", "a hydrologist", "a climate scientist", "a local farmer",
               "the project leader", "a volunteer from {place}"],
        tags=["climate", "environment", "biodiversity", "energy", "water"],
        sentences=[
            "Measurements taken near {place} show a clear trend over the past {num} years.",
            "The project will cost {money} million crowns and is partly funded by the regional climate fund.",
            "Researchers used drones and satellite data to map {topic} across {num} sites.",
            "Average temperatures in {month} were {pct2} degrees above the long-term mean.",
            "Volunteers from {place} have spent weekends since {month} collecting samples.",
            "Scientists cautioned that one good year does not make a recovery.",
            "The findings will be fed into the national climate adaptation report.",
            "Landowners near {place} will be paid to leave part of their fields unploughed.",
            "The energy agency estimates that the scheme will save {big} tonnes of carbon dioxide a year.",
            "Similar work in {place2} has shown encouraging results after {num} seasons.",
            "Heavy rain in the autumn washed fertiliser into rivers and set the work back.",
            "Critics argued that money would be better spent cutting emissions at source.",
            "The next survey of {topic} is planned for the spring.",
            "Data from the monitoring stations is published online every month.",
            "Fishermen near {place} said they had noticed changes long before the scientists.",
            "The ministry said it would set binding targets if voluntary measures fell short.",
            "Schools in {place} have joined the project as part of their science lessons.",
            "Insurance companies are following the research closely because of rising flood claims.",
        ],
    ),
}

START = datetime(2024, 1, 2, tzinfo=timezone.utc)
END = datetime(2026, 11, 10, tzinfo=timezone.utc)


def _tz_for(month: int) -> timezone:
    return timezone(timedelta(hours=2 if 4 <= month <= 10 else 1))


class _Filler(dict):
    """format_map helper: each field drawn fresh from the article's random source."""

    def __init__(self, rng: random.Random, place: str, topic: str, org: str) -> None:
        super().__init__()
        self.rng, self.place, self.topic, self.org = rng, place, topic, org

    def __missing__(self, key: str) -> str:
        r = self.rng
        if key == "place":
            return self.place if r.random() < 0.7 else r.choice(PLACES)
        if key == "place2":
            return r.choice([p for p in PLACES if p != self.place])
        if key == "topic":
            return self.topic
        if key == "org":
            return self.org if r.random() < 0.6 else r.choice(["the ministry", "the regional authority", "the union"])
        if key == "person":
            return f"{r.choice(FIRST_NAMES)} {r.choice(LAST_NAMES)}"
        if key == "num":
            return str(r.randint(3, 19))
        if key == "num2":
            return str(r.randint(20, 80))
        if key == "big":
            return f"{r.randint(2, 95) * 100:,}"
        if key == "pct":
            return str(r.randint(11, 78))
        if key == "pct2":
            return f"{r.randint(1, 9)}.{r.randint(0, 9)}"
        if key == "money":
            return str(r.randint(12, 940))
        if key == "weekday":
            return r.choice(WEEKDAYS[:5])
        if key == "month":
            return r.choice(MONTHS)
        if key == "year":
            return str(r.randint(2009, 2021))
        if key == "season":
            return r.choice(["summer", "winter", "Easter", "autumn"])
        raise KeyError(key)


def _fill(template: str, f: _Filler) -> str:
    text = template.format_map(f)
    return text[:1].upper() + text[1:]


def _one_article(rng: random.Random, section: str, taken_titles: set[str]) -> tuple[str, dict]:
    kit = KITS[section]
    for attempt in range(200):
        place = rng.choice(PLACES)
        topic = rng.choice(kit["topics"])
        org = rng.choice(kit["orgs"])
        f = _Filler(rng, place, topic, org)
        actor_t, actor_b = rng.choice(kit["actors"])
        verb_t, verb_b = rng.choice(kit["verbs"])
        obj = rng.choice(kit["objects"])
        tails = kit["tails"] if "{place}" not in actor_t else [t for t in kit["tails"] if "{place}" not in t]
        tail = rng.choice(tails)
        f.place = place  # title and lead share the main place
        title_tail = tail.format(place=place) if tail else ""
        title = " ".join(x for x in (actor_t.format(place=place), verb_t, obj.format(topic=topic), title_tail) if x)
        if attempt > 100:
            title += f" in {rng.choice(PLACES)}"
        title = title[:1].upper() + title[1:]
        if title not in taken_titles:
            break
    else:  # pragma: no cover - the space of titles is far larger than any benchmark
        raise RuntimeError("could not find a unique title")
    taken_titles.add(title)

    lead_core = " ".join(x for x in (actor_b.format(place=place), verb_b, obj.format(topic=topic), title_tail) if x)
    lead_core = lead_core[:1].upper() + lead_core[1:]
    reasons = [
        f"ending months of uncertainty for people in {place}",
        f"in a move that surprised many observers in {place}",
        "after a meeting that ran well past its scheduled end",
        f"saying the situation in {place} could no longer wait",
        "despite warnings that the timetable was too tight",
        "following pressure from local groups",
        f"the first such step in {place} for {rng.randint(5, 30)} years",
    ]
    weekday = rng.choice(WEEKDAYS)
    lead = f"{lead_core} on {weekday}, {rng.choice(reasons)}."
    description = f"{lead_core}."

    pool = list(kit["sentences"]) + list(GENERIC)
    rng.shuffle(pool)
    n_paragraphs = rng.randint(4, 6)
    paragraphs: list[str] = []
    first = [lead] + [_fill(pool.pop(), f) for _ in range(rng.randint(1, 2))]
    paragraphs.append(" ".join(first))
    quote_at = {rng.randint(1, n_paragraphs - 1)}
    if rng.random() < 0.5:
        quote_at.add(rng.randint(1, n_paragraphs - 1))
    quotes = rng.sample(QUOTES, 2)
    for i in range(1, n_paragraphs):
        if i in quote_at and quotes:
            speaker = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            role = rng.choice(kit["roles"]).format(place=place)
            paragraphs.append(f"“{quotes.pop()},” said {speaker}, {role}. " + _fill(pool.pop(), f))
            continue
        sentences = []
        for _ in range(rng.randint(2, 4)):
            s = _fill(pool.pop(), f)
            if rng.random() < 0.2:
                lead_in = rng.choice(LEADINS).format_map(f)
                s = f"{lead_in} {s[:1].lower() + s[1:]}" if not s.startswith(("The Kalmar", "Maravia", "Osterlund")) else f"{lead_in} {s}"
            sentences.append(s)
        paragraphs.append(" ".join(sentences))

    authors = rng.sample(REPORTERS, 2 if rng.random() < 0.3 else 1)
    tags = [rng.choice(kit["tags"]), place.lower()]
    tags.append(topic) if rng.random() < 0.5 else None
    published = START + timedelta(seconds=rng.randint(0, int((END - START).total_seconds())))
    published = published.replace(second=0, microsecond=0)
    published = published.astimezone(_tz_for(published.month))
    modified = None
    if rng.random() < 0.2:
        modified = published + timedelta(hours=rng.randint(1, 72), minutes=rng.randint(0, 59))
    return title, dict(authors=tuple(authors), tags=tuple(dict.fromkeys(tags)), published=published,
                       modified=modified, description=description, paragraphs=tuple(paragraphs))


def generate_articles(count: int, *, seed: int, taken_slugs: set[str] = frozenset(),
                      taken_titles: set[str] = frozenset()) -> list[Article]:
    """``count`` new articles, deterministic for a given seed, with unique titles and slugs."""
    rng = random.Random(seed)
    titles = set(taken_titles)
    slugs = set(taken_slugs)
    out: list[Article] = []
    for i in range(count):
        section = SECTIONS[i % len(SECTIONS)]
        title, d = _one_article(rng, section, titles)
        base = slugify(title)[:90].strip("-")
        slug, k = base, 2
        while slug in slugs:
            slug, k = f"{base}-{k}", k + 1
        slugs.add(slug)
        out.append(Article(slug=slug, section=section, title=title, generated=True, **d))
    return out
