//! Garden search latency. A garden of patterns, metrics and stories is
//! planted through `service::garden::create`, so tags and the full-text index
//! are filled exactly as on a node; then fixed queries run through
//! `service::garden::search`, as the pages and the API call it.
//!
//! Each query is also timed in two layers below the service, to show where
//! the time goes: the full-text index alone (the statement
//! `db::queries::garden` sends, ids only) and `db::queries::garden::find`
//! (the index, then the matching rows). What the service adds on top is the
//! ranking of those rows in Rust and the authors and content of one page.

use crate::support::{BenchDb, Summary, Table, load_average, ms};
use anyhow::{Context, Result};
use healthcommons_core::garden::{
    self as words, Content, ItemStatus, Kind, Place, Relation, RelationKind, Resource,
};
use healthcommons_db::{
    DatabaseTransaction, Db,
    entities::{actor, garden_item},
    queries::{self, garden::Filter, posts::Page},
};
use healthcommons_service::{
    NodeContext, Outgoing, Processor, Publisher, Resolver, ServiceError, ServiceResult,
    accounts::{self, Account, Registration, Role},
    garden::{self, Draft, ItemView, Query},
};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// As the API and the pages ask.
const PAGE: Page = Page { number: 1, size: 50 };
/// Members who plant the garden (their keys take a moment each to make).
const AUTHORS: usize = 4;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Garden items to plant.
    #[arg(long, default_value_t = 10_000)]
    pub items: usize,
    /// Timed runs of each query, after the warm-up.
    #[arg(long, default_value_t = 200)]
    pub iterations: usize,
    /// Untimed runs of each query first.
    #[arg(long, default_value_t = 10)]
    pub warmup: usize,
    /// Seed of the generated garden: the same seed plants the same garden.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Also run on this PostgreSQL server, where the user may create
    /// databases; the benchmark makes a database of its own and drops it.
    #[arg(long, env = "HEALTHCOMMONS_BENCH_POSTGRES_URL", hide_env_values = true)]
    pub postgres_url: Option<String>,
}

pub async fn run(args: Args) -> Result<()> {
    anyhow::ensure!(
        args.items > 0 && args.iterations > 0,
        "--items and --iterations must be at least 1"
    );
    println!(
        "# Garden search: {} items, {} timed runs of each query after {} warm-up runs",
        args.items, args.iterations, args.warmup
    );
    println!();
    let mut totals = Vec::new();
    let sqlite = BenchDb::sqlite().await?;
    totals.push(backend(sqlite, &args).await?);
    match &args.postgres_url {
        Some(url) => {
            let postgres = BenchDb::postgres(url).await?;
            totals.push(backend(postgres, &args).await?);
        }
        None => {
            println!("## PostgreSQL: skipped");
            println!();
            println!(
                "Set HEALTHCOMMONS_BENCH_POSTGRES_URL to a server where the user may create databases \
                 (e.g. postgres://postgres:postgres@127.0.0.1:5432/postgres) to run it there too."
            );
            println!();
        }
    }
    println!("## Summary");
    println!();
    let mut table = Table::new(&[
        "backend",
        "seed items/s",
        "searches",
        "mean ms",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "run s",
    ]);
    for total in totals {
        table.row(vec![
            total.backend.to_owned(),
            format!("{:.0}", total.seed_rate),
            total.all.runs.to_string(),
            ms(total.all.mean),
            ms(total.all.p50),
            ms(total.all.p95),
            ms(total.all.p99),
            ms(total.all.max),
            format!("{:.0}", total.took.as_secs_f64()),
        ]);
    }
    table.print();
    Ok(())
}

struct BackendTotal {
    backend: &'static str,
    seed_rate: f64,
    all: Summary,
    /// Planting and measuring.
    took: Duration,
}

/// Run on one backend, and remove its database whatever happens.
async fn backend(bench: BenchDb, args: &Args) -> Result<BackendTotal> {
    let outcome = run_on(&bench, args).await;
    let finished = bench.finish().await;
    let total = outcome?;
    finished?;
    Ok(total)
}

async fn run_on(bench: &BenchDb, args: &Args) -> Result<BackendTotal> {
    let begun = Instant::now();
    println!("## {}", bench.name());
    println!();
    println!("{}", bench.describe().await?);
    println!();
    let seeded = seed(&bench.db, args.items, args.seed).await?;
    let rate = seeded.planted as f64 / seeded.elapsed.as_secs_f64();
    println!(
        "Planted {} items ({} patterns, {} metrics, {} stories; {} drafts) by {} members of {} in {:.1} s: \
         {rate:.0} items/s, each through garden::create in a transaction of its own. Database: {:.1} MiB.",
        seeded.planted,
        seeded.kinds[0],
        seeded.kinds[1],
        seeded.kinds[2],
        seeded.drafts,
        seeded.authors.len(),
        seeded.ctx.domain,
        seeded.elapsed.as_secs_f64(),
        bench.size().await? as f64 / 1024.0 / 1024.0,
    );
    println!();
    let started = Instant::now();
    let results = measure(&bench.db, args.iterations, args.warmup).await?;
    print_results(&results);
    let samples: Vec<Duration> = results.iter().flat_map(|r| r.search_samples.clone()).collect();
    let all = Summary::of(&samples).context("no searches were timed")?;
    println!();
    println!(
        "Overall: {} searches, mean {} ms, p50 {} ms, p95 {} ms, p99 {} ms ({:.1} s of measuring; \
         load average now {}).",
        all.runs,
        ms(all.mean),
        ms(all.p50),
        ms(all.p95),
        ms(all.p99),
        started.elapsed().as_secs_f64(),
        load_average().map_or_else(|| "unknown".to_owned(), |(_, all)| all)
    );
    println!();
    Ok(BackendTotal {
        backend: bench.name(),
        seed_rate: rate,
        all,
        took: begun.elapsed(),
    })
}

// ---------------------------------------------------------------------------
// The garden: generated from fixed word lists by a seeded generator, so the
// same seed always plants the same items.

/// SplitMix64: small, fast, and the same on every platform and version.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        let mut rng = Rng(seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F));
        rng.next();
        rng
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn between(&mut self, low: usize, high: usize) -> usize {
        low + self.below(high - low + 1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 1000 < percent * 10
    }

    fn per_mille(&mut self, n: u64) -> bool {
        self.next() % 1000 < n
    }

    /// Any element, equally likely.
    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.below(list.len())]
    }

    /// Early elements much more often than late ones, as with words in real
    /// text: the first is picked about ten times as often as the last.
    fn skewed<'a>(&mut self, list: &[&'a str]) -> &'a str {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        list[((u * u * list.len() as f64) as usize).min(list.len() - 1)]
    }
}

const WHO: &[&str] = &[
    "older people",
    "carers",
    "young parents",
    "volunteers",
    "neighbours",
    "patients",
    "walkers",
    "gardeners",
    "families",
    "students",
    "people living with dementia",
    "community nurses",
    "health champions",
    "social prescribers",
    "peer supporters",
    "pharmacists",
    "link workers",
    "retired teachers",
    "new arrivals",
    "men over sixty",
    "teenagers",
    "night-shift workers",
    "refugees",
    "wheelchair users",
];

const ACTIVITIES: &[&str] = &[
    "walk along the river",
    "cook a shared meal",
    "tend the allotment",
    "share what helps",
    "practise chair yoga",
    "learn first aid",
    "dance together",
    "repair bicycles",
    "swim at the lido",
    "read aloud",
    "sing in a choir",
    "plant fruit trees",
    "check blood pressure",
    "talk about grief",
    "play walking football",
    "knit for the maternity ward",
    "map accessible routes",
    "run a seed library",
    "teach cooking on a budget",
    "visit isolated neighbours",
    "build raised beds",
    "practise balance exercises",
    "swap children's clothes",
    "record oral histories",
];

const VENUES: &[&str] = &[
    "library",
    "church hall",
    "surgery",
    "park",
    "allotment",
    "café",
    "school",
    "sports club",
    "community centre",
    "market",
    "mosque",
    "leisure centre",
    "pharmacy",
    "village hall",
    "youth club",
    "fire station",
];

const WHEN: &[&str] = &[
    "every Monday",
    "twice a week",
    "once a month",
    "on Saturday mornings",
    "each evening",
    "every fortnight",
    "during school holidays",
    "on market days",
    "after Friday prayers",
    "before the morning shift",
];

const OUTCOMES: &[&str] = &[
    "less loneliness",
    "fewer GP visits",
    "better sleep",
    "stronger friendships",
    "more confidence",
    "lower blood pressure",
    "fewer falls",
    "healthier eating",
    "new volunteers",
    "steadier attendance",
    "improved mobility",
    "reduced anxiety",
    "shorter waiting lists",
    "more referrals",
    "greater trust in services",
];

const BARRIERS: &[&str] = &[
    "transport costs",
    "shift work",
    "language barriers",
    "stigma",
    "steep stairs",
    "bad weather",
    "childcare",
    "digital exclusion",
    "funding gaps",
    "parking",
    "volunteer burnout",
    "insurance",
];

const PRACTICES: &[&str] = &[
    "cooking club",
    "peer support circle",
    "befriending scheme",
    "chair yoga class",
    "walking group",
    "dementia café",
    "men's shed",
    "community garden",
    "seed library",
    "repair café",
    "community choir",
    "falls prevention class",
    "breastfeeding support group",
    "carers' respite day",
    "social prescribing service",
    "health walk",
    "green gym",
    "community fridge",
    "grief café",
    "swim group",
    "bike library",
    "wellbeing hub",
    "craft circle",
    "tenants' health panel",
    "walking football league",
    "homework club",
    "diabetes education course",
    "hearing loss support group",
    "parkrun volunteer team",
    "mobile foodbank",
    "singing for lung health group",
    "long covid peer group",
    "menopause café",
    "baby massage class",
    "stroke survivors' club",
    "allotment project",
];

const ADJECTIVES: &[&str] = &[
    "Saturday",
    "Riverside",
    "Neighbourhood",
    "Intergenerational",
    "Village",
    "Evening",
    "Low-cost",
    "Volunteer-led",
    "Bilingual",
    "Accessible",
    "Weekly",
    "Pop-up",
    "Rural",
    "Seasonal",
    "Street",
    "Family",
    "Open-air",
    "Lunchtime",
];

const MEASURES: &[&str] = &[
    "Attendance",
    "Retention",
    "Wellbeing score",
    "Reach",
    "Cost per participant",
    "Waiting time",
    "Referral rate",
    "Volunteer hours",
    "Drop-out rate",
    "Satisfaction",
    "Steps per day",
    "Loneliness score",
    "Repeat visits",
];

const UNITS: &[&str] = &[
    "people per session",
    "percent",
    "visits per month",
    "minutes per week",
    "score from 0 to 10",
    "euros per participant",
    "hours per month",
    "referrals per quarter",
];

const WHEN_IT_HAPPENED: &[&str] = &[
    "spring 2024",
    "2023",
    "autumn 2025",
    "2019 to 2022",
    "summer 2025",
    "winter 2024",
    "since 2021",
    "2018",
];

const TAGS: &[&str] = &[
    "walking",
    "mental-health",
    "loneliness",
    "nutrition",
    "carers",
    "older-people",
    "dementia",
    "young-people",
    "gardening",
    "exercise",
    "peer-support",
    "social-prescribing",
    "volunteering",
    "falls-prevention",
    "green-space",
    "food-poverty",
    "families",
    "rural",
    "disability",
    "refugees",
    "grief",
    "sleep",
    "air-quality",
    "housing",
    "digital-inclusion",
    "arts",
    "music",
    "men",
];

/// Town, latitude, longitude.
const PLACES: &[(&str, f64, f64)] = &[
    ("Leeds", 53.80, -1.55),
    ("Bristol", 51.45, -2.59),
    ("Zürich", 47.37, 8.54),
    ("Lyon", 45.76, 4.84),
    ("Skipton", 53.96, -2.02),
    ("Ghent", 51.05, 3.72),
    ("Bologna", 44.49, 11.34),
    ("Porto", 41.15, -8.61),
    ("Cork", 51.90, -8.47),
    ("Tampere", 61.50, 23.79),
    ("Kraków", 50.06, 19.94),
    ("Utrecht", 52.09, 5.12),
    ("Bilbao", 43.26, -2.93),
    ("Graz", 47.07, 15.44),
    ("Aarhus", 56.16, 10.20),
    ("Dundee", 56.46, -2.97),
    ("Cardiff", 51.48, -3.18),
    ("Brno", 49.20, 16.61),
    ("Nantes", 47.22, -1.55),
    ("Leipzig", 51.34, 12.37),
];

const NEIGHBOURHOODS: &[&str] = &[
    "Old Town",
    "Harbourside",
    "North End",
    "Station Quarter",
    "Hillside",
    "Riverbank",
];

/// Words few items use: a search for one finds a handful.
const RARE: &[&str] = &[
    "sarcopenia",
    "hyperacusis",
    "chilblains",
    "kintsugi",
    "sphagnum",
    "tinnitus",
    "pellagra",
    "lymphoedema",
    "alexithymia",
    "bryophytes",
    "scoliosis",
    "vitiligo",
    "dysphagia",
    "presbycusis",
    "agoraphobia",
    "hydrotherapy",
    "orienteering",
    "beekeeping",
    "foraging",
    "bookbinding",
    "calligraphy",
    "letterpress",
    "ceilidh",
    "capoeira",
    "pétanque",
    "origami",
    "taiko",
    "bouldering",
    "geocaching",
    "birdsong",
    "nettles",
    "elderflower",
    "sourdough",
    "kombucha",
    "wildflowers",
    "hedgerows",
    "moorland",
    "estuary",
    "towpath",
    "lido",
];

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

const FIRST_NAMES: &[&str] = &[
    "Ana", "Bea", "Chidi", "Dorota", "Emre", "Fatima", "Gwen", "Hamid", "Ines", "Jonas", "Kiran", "Lotte",
    "Malik", "Nuala", "Olu", "Priya", "Quentin", "Rosa", "Sven", "Tomasz", "Ulla", "Viktor", "Wanjiru",
    "Xiu", "Yusuf", "Zofia", "Aoife", "Bram", "Carmen", "Declan", "Elif", "Farid", "Greta", "Hugo", "Ilse",
    "Jamal", "Katya", "Luca", "Maeve", "Nils", "Oksana", "Pedro", "Rahel", "Sami", "Tereza",
];

/// Surnames, streets and organisations are made of two parts, which gives
/// the long tail of proper names real text has.
const NAME_STARTS: &[&str] = &[
    "Ash", "Brad", "Car", "Dun", "El", "Fair", "Gold", "Har", "Ken", "Lang", "Mor", "Nor", "Oak", "Pem",
    "Quin", "Ros", "Stan", "Thorn", "Wel", "York", "Ber", "Cal", "Dor", "Ev", "Fen", "Glen", "Hol", "Ing",
    "Kirk", "Lin", "Mar", "Ned", "Ost", "Pen", "Red", "Sel", "Tal", "Ul", "Ven", "Wim",
];

const NAME_ENDS: &[&str] = &[
    "ford", "ley", "ton", "wood", "by", "field", "ham", "more", "well", "croft", "dale", "hurst", "stone",
    "brook", "shaw", "wick", "mere", "combe", "gate", "holm",
];

const STREETS: &[&str] = &[
    "Road", "Street", "Lane", "Close", "Way", "Terrace", "Gardens", "Square",
];

const ORGANISATIONS: &[&str] = &[
    "Trust",
    "Primary Care Network",
    "Health Centre",
    "Housing Association",
    "Food Bank",
    "Youth Project",
    "Residents' Association",
    "Foundation",
];

const CONDITIONS: &[&str] = &[
    "diabetes",
    "arthritis",
    "asthma",
    "depression",
    "high blood pressure",
    "long covid",
    "chronic pain",
    "heart failure",
    "COPD",
    "obesity",
    "osteoporosis",
    "Parkinson's",
    "anxiety",
    "insomnia",
    "frailty",
    "hearing loss",
    "sight loss",
    "menopause symptoms",
    "postnatal depression",
    "multiple sclerosis",
    "epilepsy",
    "psoriasis",
    "migraine",
    "addiction",
];

const THINGS: &[&str] = &[
    "a WhatsApp group",
    "printed timetables",
    "name badges",
    "a hearing loop",
    "risk assessments",
    "safeguarding training",
    "a shared calendar",
    "bus passes",
    "large-print leaflets",
    "a first-aid kit",
    "a sign-up sheet",
    "folding chairs",
    "a lending cupboard",
    "thermos flasks",
    "interpreters",
    "a small grant",
    "a quiet room",
    "step counters",
    "rain ponchos",
    "a newsletter",
];

fn surname(rng: &mut Rng) -> String {
    format!("{}{}", rng.pick(NAME_STARTS), rng.pick(NAME_ENDS))
}

fn sentence(rng: &mut Rng, place: &str) -> String {
    let who = rng.skewed(WHO);
    let practice = rng.skewed(PRACTICES);
    let text = match rng.below(30) {
        0 => format!(
            "{} meet {} at the {} to {}.",
            who,
            rng.pick(WHEN),
            rng.skewed(VENUES),
            rng.skewed(ACTIVITIES)
        ),
        1 => format!(
            "The {practice} started when a few {who} asked the {} for a room.",
            rng.skewed(VENUES)
        ),
        2 => format!(
            "After {} months we saw {} and {}.",
            rng.between(2, 30),
            rng.skewed(OUTCOMES),
            rng.skewed(OUTCOMES)
        ),
        3 => format!(
            "The hardest part was {}; we solved it with help from local {}.",
            rng.skewed(BARRIERS),
            rng.skewed(WHO)
        ),
        4 => format!(
            "About {} people come {}, most of them {}.",
            rng.between(5, 120),
            rng.pick(WHEN),
            rng.skewed(WHO)
        ),
        5 => format!("Community health workers in {place} refer {who} who would otherwise stay at home."),
        6 => format!(
            "Nobody pays: the {} lends the space and volunteers bring tea.",
            rng.skewed(VENUES)
        ),
        7 => format!(
            "We ask everyone how they feel at the start and after {} weeks.",
            rng.between(4, 26)
        ),
        8 => format!(
            "It works best when {} lead and the professionals step back.",
            rng.skewed(WHO)
        ),
        9 => format!(
            "A {practice} needs a regular time, a warm welcome and someone who notices who is missing."
        ),
        10 => format!(
            "{} told us that {} kept them from coming before.",
            capitalised(who),
            rng.skewed(BARRIERS)
        ),
        11 => format!(
            "The {} {} funded the first year with {} euros.",
            surname(rng),
            rng.pick(ORGANISATIONS),
            rng.between(1, 60) * 500
        ),
        12 => format!(
            "We keep a simple register so we can report {} to the {} {}.",
            rng.skewed(OUTCOMES),
            surname(rng),
            rng.pick(ORGANISATIONS)
        ),
        13 => format!(
            "In {place} the {practice} now runs in {} neighbourhoods.",
            rng.between(2, 14)
        ),
        14 => format!(
            "People who {} together look out for each other between sessions.",
            rng.skewed(ACTIVITIES)
        ),
        15 => format!(
            "Partners include the {} {} and a {}.",
            surname(rng),
            rng.pick(ORGANISATIONS),
            rng.skewed(PRACTICES)
        ),
        16 => format!(
            "Families with young children found it easier once we moved to {}.",
            rng.pick(WHEN)
        ),
        17 => format!(
            "Carers said the best thing was an hour to {} without worrying.",
            rng.skewed(ACTIVITIES)
        ),
        18 => format!(
            "Being outdoors is the simplest way in: no equipment, no cost, and {} for most.",
            rng.skewed(OUTCOMES)
        ),
        19 => format!(
            "{} {}, who started the {practice} on {} {}, says it changed her week.",
            rng.pick(FIRST_NAMES),
            surname(rng),
            surname(rng),
            rng.pick(STREETS)
        ),
        20 => format!(
            "Many of the {who} live with {} or {}.",
            rng.skewed(CONDITIONS),
            rng.skewed(CONDITIONS)
        ),
        21 => format!(
            "We needed {} and {} before the first session.",
            rng.skewed(THINGS),
            rng.skewed(THINGS)
        ),
        22 => format!(
            "Ask {} at the {} {} for the contact list.",
            rng.pick(FIRST_NAMES),
            surname(rng),
            rng.pick(ORGANISATIONS)
        ),
        23 => format!(
            "For people with {} we adapted the {} and kept groups under {}.",
            rng.skewed(CONDITIONS),
            rng.skewed(PRACTICES),
            rng.between(6, 20)
        ),
        24 => format!(
            "The {} on {} {} was the easiest place to reach by bus.",
            rng.skewed(VENUES),
            surname(rng),
            rng.pick(STREETS)
        ),
        25 => format!(
            "{} joined in {} and now coordinates {}.",
            rng.pick(FIRST_NAMES),
            2012 + rng.below(14),
            rng.skewed(THINGS)
        ),
        26 => format!(
            "Walking together helped {} who had not left home since the winter.",
            rng.skewed(WHO)
        ),
        27 => format!(
            "Our GP surgery noticed {} among patients with {}.",
            rng.skewed(OUTCOMES),
            rng.skewed(CONDITIONS)
        ),
        28 => format!(
            "We borrowed the idea from a {} in {}.",
            rng.skewed(PRACTICES),
            PLACES[rng.below(PLACES.len())].0
        ),
        _ => format!(
            "Our volunteers trained with {} from the {}.",
            rng.skewed(WHO),
            rng.skewed(PRACTICES)
        ),
    };
    let text = capitalised(&text);
    if rng.per_mille(5) {
        format!("{text} We also tried {}.", rng.pick(RARE))
    } else {
        text
    }
}

/// Markdown: a few paragraphs, sometimes a list.
fn field(rng: &mut Rng, place: &str, sentences: (usize, usize)) -> String {
    let mut paragraphs = Vec::new();
    let mut left = rng.between(sentences.0, sentences.1);
    while left > 0 {
        let here = left.min(rng.between(2, 4));
        left -= here;
        let paragraph: Vec<String> = (0..here).map(|_| sentence(rng, place)).collect();
        paragraphs.push(paragraph.join(" "));
    }
    if rng.chance(25) {
        let list: Vec<String> = (0..rng.between(2, 4))
            .map(|_| format!("- {}", capitalised(rng.skewed(ACTIVITIES))))
            .collect();
        paragraphs.push(list.join("\n"));
    }
    paragraphs.join("\n\n")
}

/// One item to plant: what an author would write.
pub struct Planting {
    pub kind: Kind,
    pub status: ItemStatus,
    pub content: Content,
}

/// The `index`th item of the garden grown from `seed`. `patterns` are ids of
/// patterns planted before it, which metrics and stories may name.
fn generate(seed: u64, index: usize, patterns: &[String]) -> Planting {
    let mut rng = Rng::new(seed, index as u64);
    let kind = match rng.below(10) {
        0..=4 => Kind::Pattern,
        5 | 6 => Kind::Metric,
        _ => Kind::Story,
    };
    let (town, latitude, longitude) = PLACES[rng.below(PLACES.len())];
    let place_name = if rng.chance(30) {
        format!("{}, {town}", rng.pick(NEIGHBOURHOODS))
    } else {
        town.to_owned()
    };
    let practice = rng.skewed(PRACTICES);
    let title = match kind {
        Kind::Pattern => match rng.below(4) {
            0 => format!("{} {practice} for {}", rng.pick(ADJECTIVES), rng.skewed(WHO)),
            1 => format!(
                "{} {practice} in the {}",
                rng.pick(ADJECTIVES),
                rng.skewed(VENUES)
            ),
            2 => format!("{} {practice}", rng.pick(ADJECTIVES)),
            _ => format!("A {practice} run by {}", rng.skewed(WHO)),
        },
        Kind::Metric => match rng.below(3) {
            0 => format!("{} of the {practice}", rng.pick(MEASURES)),
            1 => format!("{} among {}", rng.pick(MEASURES), rng.skewed(WHO)),
            _ => format!("{} after {} weeks", rng.pick(MEASURES), rng.between(4, 52)),
        },
        Kind::Story => match rng.below(4) {
            0 => format!("How {} started a {practice} in {town}", rng.skewed(WHO)),
            1 => format!("{} years of the {practice} in {town}", rng.between(2, 12)),
            2 => format!("What we learned from a {practice}"),
            _ => format!("The {practice} that brought {} together", rng.skewed(WHO)),
        },
    };
    let summary = format!(
        "{} {}",
        capitalised(&format!(
            "{} {practice} where {} {}.",
            rng.pick(ADJECTIVES).to_lowercase(),
            rng.skewed(WHO),
            rng.skewed(ACTIVITIES)
        )),
        sentence(&mut rng, town)
    );
    let mut fields = std::collections::BTreeMap::new();
    let lengths: &[(usize, usize)] = match kind {
        Kind::Pattern => &[(3, 6), (2, 5), (2, 4), (4, 9), (2, 5)],
        Kind::Metric => &[(2, 4), (2, 5), (3, 6)],
        Kind::Story => &[(5, 12), (2, 5)],
    };
    for ((key, _), sentences) in kind.fields().iter().zip(lengths) {
        if rng.chance(90) {
            fields.insert((*key).to_owned(), field(&mut rng, town, *sentences));
        }
    }
    let tags = (0..rng.between(1, 4))
        .map(|_| rng.skewed(TAGS).to_owned())
        .collect();
    let place = rng.chance(60).then(|| {
        let located = rng.chance(70);
        Place {
            name: place_name,
            latitude: located.then_some(latitude),
            longitude: located.then_some(longitude),
        }
    });
    let resources = if rng.chance(20) {
        vec![Resource {
            title: format!("{} toolkit", capitalised(practice)),
            href: format!("https://example.org/toolkits/{}", rng.between(1, 400)),
        }]
    } else {
        Vec::new()
    };
    let relations = match kind {
        Kind::Metric if !patterns.is_empty() && rng.chance(40) => vec![Relation {
            kind: RelationKind::Evaluates,
            target: patterns[rng.below(patterns.len())].clone(),
        }],
        Kind::Story if !patterns.is_empty() && rng.chance(50) => vec![Relation {
            kind: RelationKind::Applies,
            target: patterns[rng.below(patterns.len())].clone(),
        }],
        _ => Vec::new(),
    };
    Planting {
        kind,
        status: if rng.chance(3) {
            ItemStatus::Draft
        } else {
            ItemStatus::Published
        },
        content: Content {
            title,
            summary,
            fields,
            unit: (kind == Kind::Metric).then(|| rng.pick(UNITS).to_owned()),
            happened: (kind == Kind::Story).then(|| rng.pick(WHEN_IT_HAPPENED).to_owned()),
            resources,
            relations,
            tags,
            license: "CC-BY-SA-4.0".to_owned(),
            place,
        },
    }
}

/// A publisher that sends nothing: the benchmark has no other nodes. (On a
/// node the federation layer writes an activity in the same transaction.)
struct NoFederation;

#[async_trait::async_trait]
impl Publisher for NoFederation {
    async fn publish(&self, _txn: &DatabaseTransaction, _outgoing: Outgoing) -> ServiceResult<()> {
        Ok(())
    }
}

#[async_trait::async_trait]
impl Resolver for NoFederation {
    async fn actor(&self, _query: &str) -> ServiceResult<actor::Model> {
        Err(ServiceError::not_found("no other nodes in this benchmark"))
    }
    async fn reply_target(&self, _url: &url::Url) -> ServiceResult<()> {
        Err(ServiceError::not_found("no other nodes in this benchmark"))
    }
    async fn garden_item(&self, _id: &str) -> ServiceResult<garden_item::Model> {
        Err(ServiceError::not_found("no other nodes in this benchmark"))
    }
    async fn refresh_origin(&self, _fork: &garden_item::Model) -> ServiceResult<garden_item::Model> {
        Err(ServiceError::not_found("no other nodes in this benchmark"))
    }
}

/// The node the garden grows on, and who planted it.
pub struct Seeded {
    pub ctx: NodeContext,
    pub authors: Vec<Account>,
    pub planted: usize,
    /// Patterns, metrics, stories.
    pub kinds: [usize; 3],
    pub drafts: usize,
    /// Planting the items (making the authors not included).
    pub elapsed: Duration,
}

/// Plant one item as a member does.
pub async fn plant(
    db: &Db,
    ctx: &NodeContext,
    author: &Account,
    planting: Planting,
) -> Result<garden_item::Model> {
    let title = planting.content.title.clone();
    let processor = Processor::new(
        db.clone(),
        db.clone(),
        ctx.clone(),
        Arc::new(NoFederation),
        Arc::new(NoFederation),
    );
    processor
        .garden()
        .create(
            author,
            planting.kind,
            None,
            Draft {
                content: planting.content,
                status: planting.status,
                message: Some("Planted"),
            },
        )
        .await
        .with_context(|| format!("planting {title:?}"))
}

/// Make a few members and plant `items` generated items through the service.
pub async fn seed(db: &Db, items: usize, seed: u64) -> Result<Seeded> {
    let ctx = NodeContext::new("bench.test", true);
    let mut authors = Vec::new();
    for number in 0..AUTHORS {
        let account = accounts::create_account(
            db,
            &ctx,
            Registration {
                username: &format!("gardener{number}"),
                password: "a benchmark passphrase",
                email: None,
            },
            Role::Member,
            true,
        )
        .await
        .context("making an author")?;
        authors.push(account);
    }
    let mut patterns = Vec::new();
    let mut kinds = [0; 3];
    let mut drafts = 0;
    let started = Instant::now();
    for index in 0..items {
        let planting = generate(seed, index, &patterns);
        let (kind, status) = (planting.kind, planting.status);
        let item = plant(db, &ctx, &authors[index % authors.len()], planting).await?;
        kinds[Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0)] += 1;
        match status {
            ItemStatus::Draft => drafts += 1,
            ItemStatus::Published if kind == Kind::Pattern => patterns.push(item.ap_id),
            ItemStatus::Published => {}
        }
    }
    Ok(Seeded {
        ctx,
        authors,
        planted: items,
        kinds,
        drafts,
        elapsed: started.elapsed(),
    })
}

// ---------------------------------------------------------------------------
// The queries.

/// One kind of search people make.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub name: &'static str,
    pub text: &'static str,
    pub kind: Option<Kind>,
    pub tag: Option<&'static str>,
}

pub const CASES: &[Case] = &[
    Case {
        name: "common word",
        text: "community",
        kind: None,
        tag: None,
    },
    Case {
        name: "rare word",
        text: "sarcopenia",
        kind: None,
        tag: None,
    },
    Case {
        name: "prefix",
        text: "menop",
        kind: None,
        tag: None,
    },
    Case {
        name: "two words",
        text: "stroke survivors",
        kind: None,
        tag: None,
    },
    Case {
        name: "three words",
        text: "cooking budget families",
        kind: None,
        tag: None,
    },
    Case {
        name: "word + kind",
        text: "walking",
        kind: Some(Kind::Metric),
        tag: None,
    },
    Case {
        name: "word + tag",
        text: "loneliness",
        kind: None,
        tag: Some("mental-health"),
    },
    Case {
        name: "no match",
        text: "xylophonist",
        kind: None,
        tag: None,
    },
    Case {
        name: "browse, no words",
        text: "",
        kind: Some(Kind::Story),
        tag: None,
    },
];

impl Case {
    fn words(&self) -> Vec<String> {
        words::search_words(self.text).into_iter().take(16).collect()
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.text.is_empty() {
            parts.push(format!("\"{}\"", self.text));
        }
        if let Some(kind) = self.kind {
            parts.push(format!("kind={}", kind.as_str()));
        }
        if let Some(tag) = self.tag {
            parts.push(format!("tag={tag}"));
        }
        parts.join(" ")
    }

    /// The filter `service::garden::search` makes of this query.
    fn filter(&self) -> Filter {
        Filter {
            words: self.words(),
            kind: self.kind,
            tag: self.tag.and_then(words::clean_tag),
            place: None,
            drafts_of: None,
            scope: Default::default(),
        }
    }

    pub async fn search(&self, db: &Db) -> Result<Vec<ItemView>> {
        let query = Query {
            text: self.text,
            kind: self.kind,
            tag: self.tag,
            place: None,
            drafts: false,
        };
        garden::search(db, healthcommons_service::policy::Viewer::Anonymous, query, PAGE)
            .await
            .with_context(|| format!("searching {}", self.describe()))
    }

    /// What the database hands the service: with words, every match to
    /// rank (`search_candidates`, four columns each); without, one page (`find`).
    async fn db_rows(&self, db: &Db) -> Result<usize> {
        let filter = self.filter();
        Ok(if filter.words.is_empty() {
            queries::garden::find(db, &filter, PAGE).await?.len()
        } else {
            queries::garden::search_candidates(db, &filter).await?.len()
        })
    }

    /// The full-text statement `db::queries::garden` sends, ids only.
    async fn index_ids(&self, db: &Db) -> Result<usize> {
        let rows = db
            .query_all_raw(index_statement(db, &self.words(), false))
            .await?;
        Ok(rows.len())
    }

    /// Every item the index holds for these words, without the cap.
    async fn index_count(&self, db: &Db) -> Result<i64> {
        let row = db
            .query_one_raw(index_statement(db, &self.words(), true))
            .await?
            .context("no count")?;
        Ok(row.try_get("", "n")?)
    }

    /// Every published item that has the words and passes the filters: what
    /// a search would find with no cap on the full-text matches.
    async fn matching_count(&self, db: &Db) -> Result<i64> {
        let backend = db.get_database_backend();
        let mut values: Vec<sea_orm::Value> = Vec::new();
        let mut param = |value: sea_orm::Value| {
            values.push(value);
            match backend {
                DbBackend::Postgres => format!("${}", values.len()),
                _ => "?".to_owned(),
            }
        };
        let mut sql =
            "SELECT count(*) AS n FROM garden_item WHERE deleted_at IS NULL AND status = 'published'"
                .to_owned();
        if let Some(kind) = self.kind {
            sql.push_str(&format!(" AND kind = {}", param(kind.as_str().into())));
        }
        if let Some(tag) = self.filter().tag {
            sql.push_str(&format!(
                " AND id IN (SELECT item_id FROM garden_tag WHERE name = {})",
                param(tag.into())
            ));
        }
        let words = self.words();
        if !words.is_empty() {
            let matched = param(match_query(backend, &words).into());
            sql.push_str(&match backend {
                DbBackend::Postgres => format!(
                    " AND id IN (SELECT item_id FROM garden_search WHERE document @@ CAST({matched} AS tsquery))"
                ),
                _ => format!(" AND id IN (SELECT rowid FROM garden_search WHERE garden_search MATCH {matched})"),
            });
        }
        let row = db
            .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?
            .context("no count")?;
        Ok(row.try_get("", "n")?)
    }
}

/// The full-text query of `db::queries::garden::full_text_match`, kept in
/// step by hand (it is private there): every word as a prefix.
fn match_query(backend: DbBackend, words: &[String]) -> String {
    match backend {
        DbBackend::Postgres => words
            .iter()
            .map(|w| format!("'{w}':*"))
            .collect::<Vec<_>>()
            .join(" & "),
        _ => words
            .iter()
            .map(|w| format!("\"{w}\"*"))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// The full-text index alone: the ids it holds for the words, or their count.
fn index_statement(db: &Db, words: &[String], count: bool) -> Statement {
    let backend = db.get_database_backend();
    let (select, from) = match backend {
        DbBackend::Postgres => (
            "item_id",
            "FROM garden_search WHERE document @@ CAST($1 AS tsquery)",
        ),
        _ => ("rowid", "FROM garden_search WHERE garden_search MATCH ?"),
    };
    let sql = if count {
        format!("SELECT count(*) AS n {from}")
    } else {
        format!("SELECT {select} AS id {from}")
    };
    Statement::from_sql_and_values(backend, sql, [match_query(backend, words).into()])
}

/// What one query type came to.
pub struct CaseResult {
    pub case: Case,
    /// Items the full-text index holds for the words (`None` without words).
    pub index_matches: Option<i64>,
    /// Published items with the words that pass the filters, uncapped.
    pub matching: i64,
    /// Rows `find` returned: what the service ranks (at most 2,000 for words).
    pub ranked: usize,
    /// Items on the first page.
    pub shown: usize,
    pub index: Option<Summary>,
    pub find: Summary,
    pub search: Summary,
    pub search_samples: Vec<Duration>,
}

async fn time<T, F: Future<Output = Result<T>>>(samples: &mut Vec<Duration>, run: F) -> Result<T> {
    let started = Instant::now();
    let out = run.await?;
    samples.push(started.elapsed());
    Ok(out)
}

/// The layers below the service are timed on one run in this many: they
/// only show where the time goes, and the run stays short.
const LAYERS_EVERY: usize = 5;

/// Run every case: `warmup` untimed runs, then `iterations` timed searches,
/// with the layers below (index, find) timed just before one in `LAYERS_EVERY`.
pub async fn measure(db: &Db, iterations: usize, warmup: usize) -> Result<Vec<CaseResult>> {
    let mut results = Vec::new();
    for case in CASES {
        let has_words = !case.words().is_empty();
        for _ in 0..warmup {
            case.search(db).await?;
        }
        let (mut index, mut find, mut search) = (Vec::new(), Vec::new(), Vec::new());
        let mut shown = 0;
        for run in 0..iterations {
            if run % LAYERS_EVERY == 0 {
                if has_words {
                    time(&mut index, case.index_ids(db)).await?;
                }
                time(&mut find, case.db_rows(db)).await?;
            }
            shown = time(&mut search, case.search(db)).await?.len();
        }
        let index_matches = if has_words {
            Some(case.index_count(db).await?)
        } else {
            None
        };
        results.push(CaseResult {
            case: *case,
            index_matches,
            matching: case.matching_count(db).await?,
            ranked: case.db_rows(db).await?,
            shown,
            index: Summary::of(&index),
            find: Summary::of(&find).context("no timed runs")?,
            search: Summary::of(&search).context("no timed runs")?,
            search_samples: search,
        });
    }
    Ok(results)
}

fn print_results(results: &[CaseResult]) {
    let mut table = Table::new(&[
        "query",
        "asks",
        "index matches",
        "matching",
        "ranked",
        "shown",
        "index ms",
        "db ms",
        "search mean ms",
        "p50 ms",
        "p95 ms",
        "p99 ms",
    ]);
    for r in results {
        table.row(vec![
            r.case.name.to_owned(),
            r.case.describe(),
            r.index_matches.map_or_else(|| "-".to_owned(), |n| n.to_string()),
            r.matching.to_string(),
            r.ranked.to_string(),
            r.shown.to_string(),
            r.index.map_or_else(|| "-".to_owned(), |s| ms(s.mean)),
            ms(r.find.mean),
            ms(r.search.mean),
            ms(r.search.p50),
            ms(r.search.p95),
            ms(r.search.p99),
        ]);
    }
    table.print();
    println!();
    println!(
        "index matches: items the full-text index holds for the words; matching: published items with \
         the words that pass the filters; ranked: the candidates db::queries::garden::search_candidates \
         hands the service to rank (every match, filters applied in the same query, up to {}); shown: \
         the first page.",
        queries::garden::MAX_CANDIDATES
    );
    println!(
        "index ms: the full-text index alone (ids only); db ms: search_candidates (with words: id, title, \
         summary, published of every match) or find (browsing: one page); both means of one run in \
         {LAYERS_EVERY}. search: service::garden::search (candidates, ranking in Rust, then a page of {} \
         whole items with their authors).",
        PAGE.size
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::BenchDb;

    fn case(name: &str) -> &'static Case {
        CASES.iter().find(|c| c.name == name).expect("a known case")
    }

    #[test]
    fn the_same_seed_grows_the_same_garden() {
        let one = generate(7, 42, &[]);
        let again = generate(7, 42, &[]);
        let other = generate(8, 42, &[]);
        assert_eq!(one.content, again.content);
        assert_ne!(one.content, other.content);
        for index in 0..300 {
            let planting = generate(7, index, &[]);
            planting
                .content
                .validated(planting.kind)
                .expect("every generated item is valid");
        }
    }

    #[tokio::test]
    async fn a_small_garden_is_planted_and_searched() {
        let bench = BenchDb::sqlite().await.expect("sqlite");
        let db = &bench.db;
        let seeded = seed(db, 200, 7).await.expect("seed");
        assert_eq!(seeded.kinds.iter().sum::<usize>(), 200);
        assert!(seeded.kinds.iter().all(|n| *n > 0), "{:?}", seeded.kinds);

        // A word no generated item has: in one item's title, and in a newer
        // item's story only. Both are found, the title first.
        let mut titled = generate(7, 1_000, &[]);
        titled.kind = Kind::Pattern;
        titled.status = ItemStatus::Published;
        titled.content.title = "Marshwort meadow walks".to_owned();
        titled.content.fields = [("solution".to_owned(), "Walk slowly; look down.".to_owned())].into();
        let titled = plant(db, &seeded.ctx, &seeded.authors[0], titled)
            .await
            .expect("plant");
        for index in 200..220 {
            let planting = generate(7, index, &[]);
            plant(db, &seeded.ctx, &seeded.authors[1], planting)
                .await
                .expect("plant");
        }
        let mut mentioned = generate(7, 1_001, &[]);
        mentioned.kind = Kind::Story;
        mentioned.status = ItemStatus::Published;
        mentioned.content.fields = [(
            "narrative".to_owned(),
            "We found marshwort by the canal.".to_owned(),
        )]
        .into();
        let mentioned = plant(db, &seeded.ctx, &seeded.authors[2], mentioned)
            .await
            .expect("plant");
        let marsh = Case {
            name: "unique word",
            text: "Marshwort",
            kind: None,
            tag: None,
        };
        let found: Vec<i64> = marsh
            .search(db)
            .await
            .expect("search")
            .iter()
            .map(|v| v.item.id)
            .collect();
        assert_eq!(found, [titled.id, mentioned.id]);
        let story = Case {
            kind: Some(Kind::Story),
            ..marsh
        };
        let found: Vec<i64> = story
            .search(db)
            .await
            .expect("search")
            .iter()
            .map(|v| v.item.id)
            .collect();
        assert_eq!(found, [mentioned.id]);

        let results = measure(db, 2, 1).await.expect("measure");
        assert_eq!(results.len(), CASES.len());
        let of = |name: &str| {
            results
                .iter()
                .find(|r| r.case.name == name)
                .expect("a result per case")
        };
        let common = of("common word");
        assert!(common.shown > 0 && common.shown <= 50);
        assert!(common.index_matches.expect("words") >= common.ranked as i64);
        for r in &results {
            if r.index_matches.is_some() {
                // Filters apply before any cap: every match is ranked.
                assert_eq!(r.matching, r.ranked as i64, "{}", r.case.name);
            } else {
                assert!(r.matching >= r.ranked as i64, "{}", r.case.name);
            }
        }
        let browse = of("browse, no words");
        assert_eq!(browse.shown as i64, browse.matching.min(50));
        assert_eq!(of("no match").shown, 0);
        assert_eq!(of("no match").index_matches, Some(0));
        assert_eq!(of("browse, no words").index_matches, None);
        assert!(of("browse, no words").shown > 0);
        for r in &results {
            assert_eq!(r.search.runs, 2);
        }

        // What is shown holds every word, as a word's beginning, and obeys the filters.
        for name in ["common word", "two words", "word + kind", "word + tag", "prefix"] {
            let case = case(name);
            let found = case.search(db).await.expect("search");
            assert!(!found.is_empty(), "{name} finds nothing in 220 items");
            for view in found {
                let document = view.content.search_document();
                let held: Vec<&str> = document.split(' ').collect();
                for word in case.words() {
                    assert!(
                        held.iter().any(|h| h.starts_with(&word)),
                        "{name}: {:?} lacks {word}",
                        view.content.title
                    );
                }
                if let Some(kind) = case.kind {
                    assert_eq!(view.kind, kind);
                }
                if let Some(tag) = case.tag {
                    assert!(view.content.tags.iter().any(|t| t == tag));
                }
            }
        }
        bench.finish().await.expect("finish");
    }
}
