// Evaluate the NosGestesClimat (NGC) model for every answer level of the SU survey and write the
// calibrated scale qet_geo/data/ngc_scale.csv.
//
// For each usage and level, the situation starts from the empty one (NGC's "average French"
// defaults) and sets only the answers that describe that level; the script evaluates the usage's
// scope rules (kgCO2e/yr, per person) and the whole footprint ("bilan"). The mapping below is the
// documentation of record; qet_geo/footprint.py repeats it in prose.
//
// Usage (from scripts/ngc, after `npm ci --ignore-scripts`):
//   node evaluate.mjs                 write ../../qet_geo/data/ngc_scale.csv
//   node evaluate.mjs --out FILE      write FILE instead
//   node evaluate.mjs --check         re-evaluate and compare with the committed table (exit 1 on
//                                     any difference larger than 0.05 kgCO2e)
//
// One evaluation of "bilan" takes about half a second: the table is computed once and committed,
// never evaluated per request.

import { readFileSync, writeFileSync, renameSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import Engine from 'publicodes'

const here = dirname(fileURLToPath(import.meta.url))
const NGC_PACKAGE = '@incubateur-ademe/nosgestesclimat'
const MODEL_FILE = 'public/co2-model.FR-lang.fr.json'
const DEFAULT_OUT = resolve(here, '..', '..', 'qet_geo', 'data', 'ngc_scale.csv')
const TOLERANCE_KG = 0.05

// Car kilometres a year of a person whose main weekly mode is the car: ENTD 2008 local mobility
// (trips under 80 km) of the people whose most frequent weekday mode is a car, driver or passenger
// (weighted by pondki): 37.5 km a weekday and 35.0 km a weekend day, so (5 x 37.5 + 2 x 35.0) x 52
// = 13 386 km, rounded to 13 000 km (NGC's own default is 11 849 km, the mean mileage of a light
// vehicle). tests/test_footprint.py recomputes the ENTD figure.
const CAR_KM_PER_YEAR = 13000

// Flights: the SU question counts "times a year you take the plane"; a time is read as one return
// trip. NGC asks hours of flight a year (return legs included) when usager = "fréquemment" (its
// annual branch; "occasionnellement" asks hours over three years). Typical return trips from
// France: short haul 2 x 1.5 h (Paris-Nice), medium haul 2 x 3 h (Paris-Athens), long haul
// 2 x 7.5 h (Paris-Montréal).
//   level 2 "1 à 3": 2 trips = 1 short-haul + 1 medium-haul return: 3 h short, 6 h medium/long.
//   level 3 "Plus de 3": 5 trips = 2 short + 2 medium + 1 long-haul return: 6 h short, 27 h
//   medium/long.

const packageDir = (name) => join(here, 'node_modules', ...name.split('/'))
const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'))
const rules = readJson(join(packageDir(NGC_PACKAGE), MODEL_FILE))
const ngcVersion = readJson(join(packageDir(NGC_PACKAGE), 'package.json')).version
const publicodesVersion = readJson(join(packageDir('publicodes'), 'package.json')).version

// The meals of a week come from NGC's own mosaic suggestions for "alimentation . plats".
const meals = (name) => {
  const suggestion = rules['alimentation . plats']?.mosaique?.suggestions?.[name]
  if (!suggestion) throw new Error(`NGC model has no meal suggestion '${name}'`)
  return Object.fromEntries(
    Object.entries(suggestion).map(([k, v]) => [`alimentation . plats . ${k}`, v]),
  )
}

const NO_TRANSIT = {
  'transport . transports commun . bus . présent': 'non',
  'transport . transports commun . car . présent': 'non',
  'transport . transports commun . métro ou tram . présent': 'non',
}

// usage -> { scope: rules summed, levels: { level: { note, situation } } }
export const MAPPING = {
  meat_frequency: {
    // Lunches and dinners only: NGC's 14 weekly meals. Breakfast, drinks and waste stay default.
    scope: ['alimentation . déjeuner et dîner'],
    levels: {
      1: { note: "NGC suggestion 'végétarien' (3 vegan + 11 vegetarian meals a week)", situation: meals('végétarien') },
      2: { note: "NGC suggestion 'peu de viande' (4 white-meat, 2 fish, 8 vegetarian/vegan meals)", situation: meals('peu de viande') },
      3: { note: "NGC suggestion 'viande chaque jour' (6 white-meat, 6 red-meat, 2 fish meals)", situation: meals('viande chaque jour') },
    },
  },
  transportation_mode: {
    // Daily mobility: car, urban transit, bikes and two-wheelers. Train and holiday vehicles
    // (long distance) stay default. Motorbikes are set to none: the SU levels do not name them.
    scope: [
      'transport . voiture',
      'transport . transports commun',
      'transport . mobilité douce',
      'transport . deux roues',
    ],
    levels: {
      1: {
        note: 'no car, no transit, owns a bike (walk and cycle)',
        situation: {
          'transport . voiture . utilisateur': "'jamais'",
          ...NO_TRANSIT,
          'transport . mobilité douce . vélo . présent': 'oui',
          'transport . deux roues . usager': 'non',
        },
      },
      2: {
        note: 'no car; bus and metro/tram at NGC defaults (2 h a week each)',
        situation: {
          'transport . voiture . utilisateur': "'jamais'",
          'transport . transports commun . bus . présent': 'oui',
          'transport . transports commun . car . présent': 'non',
          'transport . transports commun . métro ou tram . présent': 'oui',
          'transport . deux roues . usager': 'non',
        },
      },
      3: {
        note: `car owner, ${CAR_KM_PER_YEAR} km a year (ENTD 2008), NGC default car and occupancy; no transit`,
        situation: {
          'transport . voiture . utilisateur': "'propriétaire'",
          'transport . voiture . km': CAR_KM_PER_YEAR,
          ...NO_TRANSIT,
          'transport . deux roues . usager': 'non',
        },
      },
    },
  },
  digital_intensity: {
    // Devices and Internet use. NGC counts phones, laptops and tablets per person and TVs,
    // desktops and consoles per household (divided by the household size, default 2.15).
    scope: ['divers . numérique'],
    levels: {
      1: {
        note: '1 h of Internet a day; 1 smartphone, 1 TV, no computer, tablet, console or speaker',
        situation: {
          'divers . numérique . internet . durée journalière': 1,
          'divers . numérique . appareils . téléphone . nombre': 1,
          'divers . numérique . appareils . ordinateur portable . nombre': 0,
          'divers . numérique . appareils . ordinateur fixe . nombre': 0,
          'divers . numérique . appareils . tablette . nombre': 0,
          'divers . numérique . appareils . TV . nombre': 1,
          'divers . numérique . appareils . enceinte bluetooth . nombre': 0,
          'divers . numérique . appareils . console de salon . nombre': 0,
          'divers . numérique . appareils . console portable . nombre': 0,
          'divers . numérique . appareils . imprimante . nombre': 0,
        },
      },
      2: {
        note: '3 h of Internet a day (NGC default); 1 smartphone, 1 laptop, 1 printer, 1 TV, no console',
        situation: {
          'divers . numérique . internet . durée journalière': 3,
          'divers . numérique . appareils . téléphone . nombre': 1,
          'divers . numérique . appareils . ordinateur portable . nombre': 1,
          'divers . numérique . appareils . ordinateur fixe . nombre': 0,
          'divers . numérique . appareils . tablette . nombre': 0,
          'divers . numérique . appareils . TV . nombre': 1,
          'divers . numérique . appareils . enceinte bluetooth . nombre': 0,
          'divers . numérique . appareils . console de salon . nombre': 0,
          'divers . numérique . appareils . console portable . nombre': 0,
          'divers . numérique . appareils . imprimante . nombre': 1,
        },
      },
      3: {
        note: '6 h of Internet a day; 1 smartphone, 1 laptop, 1 tablet, 2 TVs, 1 home and 1 handheld console, 1 speaker',
        situation: {
          'divers . numérique . internet . durée journalière': 6,
          'divers . numérique . appareils . téléphone . nombre': 1,
          'divers . numérique . appareils . ordinateur portable . nombre': 1,
          'divers . numérique . appareils . ordinateur fixe . nombre': 0,
          'divers . numérique . appareils . tablette . nombre': 1,
          'divers . numérique . appareils . TV . nombre': 2,
          'divers . numérique . appareils . enceinte bluetooth . nombre': 1,
          'divers . numérique . appareils . console de salon . nombre': 1,
          'divers . numérique . appareils . console portable . nombre': 1,
          'divers . numérique . appareils . imprimante . nombre': 1,
        },
      },
    },
  },
  purchasing_strategy: {
    // Clothes, furniture and household appliances: what one buys new or second hand, and how
    // long one keeps it. Digital devices belong to digital_intensity (no double count). NGC 4.10
    // models second-hand clothes through their durability only: plain 'occasion' gets the same
    // durability factor as 'neuf fast fashion' (0.67), 'occasion réfléchie' the same as 'neuf
    // éthique' (1.33). "Second hand first" is read as the deliberate choice, 'occasion réfléchie'.
    scope: ['divers . textile', 'divers . ameublement', 'divers . électroménager'],
    levels: {
      1: {
        note: "clothes second hand, chosen with care (qualité 'occasion réfléchie'); furniture kept until it cannot be repaired (préservation 'maximum')",
        situation: {
          'divers . textile . volume': "'renouvellement occasionnel'",
          'divers . textile . qualité': "'occasion réfléchie'",
          'divers . ameublement . préservation': "'maximum'",
        },
      },
      2: {
        note: "occasional renewal of clothes, quality unspecified (NGC's middle factors); furniture bought when needed (préservation 'moyen')",
        situation: {
          'divers . textile . volume': "'renouvellement occasionnel'",
          'divers . ameublement . préservation': "'moyen'",
        },
      },
      3: {
        note: "clothes bought new in large-range chains (qualité 'neuf fast fashion'); furniture replaced by taste (préservation 'faible')",
        situation: {
          'divers . textile . volume': "'renouvellement occasionnel'",
          'divers . textile . qualité': "'neuf fast fashion'",
          'divers . ameublement . préservation': "'faible'",
        },
      },
    },
  },
  air_travel_frequency: {
    scope: ['transport . avion'],
    levels: {
      1: { note: 'never flies', situation: { 'transport . avion . usager': "'jamais'" } },
      2: {
        note: '2 return trips a year: 3 h short haul + 6 h medium/long haul',
        situation: {
          'transport . avion . usager': "'fréquemment'",
          'transport . avion . vols annuels . heures court courrier . saisie': 3,
          'transport . avion . vols annuels . heures moyen et long courrier . saisie': 6,
        },
      },
      3: {
        note: '5 return trips a year: 6 h short haul + 27 h medium/long haul',
        situation: {
          'transport . avion . usager': "'fréquemment'",
          'transport . avion . vols annuels . heures court courrier . saisie': 6,
          'transport . avion . vols annuels . heures moyen et long courrier . saisie': 27,
        },
      },
    },
  },
  heat_source: {
    // Home energy: heating fuels and the home's electricity (electric heating is counted there),
    // per person. Level 1 takes individual electric heating, far more common in France than heat
    // networks (about 35 % of main homes against 5 %).
    scope: ['logement . chauffage', 'logement . électricité'],
    levels: {
      1: {
        note: 'individual electric heating',
        situation: {
          'logement . chauffage . mode': "'individuel'",
          'logement . chauffage . principal': "'électricité'",
        },
      },
      2: {
        note: 'individual gas heating',
        situation: {
          'logement . chauffage . mode': "'individuel'",
          'logement . chauffage . principal': "'gaz'",
        },
      },
      3: {
        note: 'individual fuel-oil heating',
        situation: {
          'logement . chauffage . mode': "'individuel'",
          'logement . chauffage . principal': "'fioul'",
        },
      },
    },
  },
}

const silent = { log() {}, warn() {}, error() {} }

function unquote(value) {
  return typeof value === 'string' ? value.replace(/^'(.*)'$/, '$1') : value
}

// Refuse answers the engine would silently ignore: unknown rules, values outside the listed
// possibilities, and children whose parent is not set (non-applicable answers).
function checkSituation(engine, usage, level, situation) {
  for (const [name, value] of Object.entries(situation)) {
    const rule = rules[name]
    if (rule === undefined) throw new Error(`${usage} level ${level}: no rule '${name}' in the model`)
    const choices = rule['une possibilité']
    if (choices && !choices.includes(unquote(value))) {
      throw new Error(`${usage} level ${level}: '${name}' = ${value} is not one of ${choices.join(', ')}`)
    }
    const got = engine.evaluate(name).nodeValue
    const want = typeof value === 'number' ? value : unquote(value)
    // publicodes evaluates a rule answered 'non' to false or null (not applicable): both mean no.
    const same =
      typeof want === 'number'
        ? Math.abs(Number(got) - want) < 1e-9
        : want === 'oui'
          ? got === true
          : want === 'non'
            ? got === false || got === null
            : got === want
    if (!same) {
      throw new Error(`${usage} level ${level}: '${name}' evaluates to ${got}, not ${value}: is its parent answer set?`)
    }
  }
}

function finite(value, what) {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`${what} is not a number: ${value}`)
  return value
}

function scopeValue(engine, scope, what) {
  return scope.reduce((sum, name) => sum + finite(engine.evaluate(name).nodeValue ?? 0, `${what}: ${name}`), 0)
}

export function evaluateScale() {
  const engine = new Engine(rules, { logger: silent })
  const defaultBilan = finite(engine.evaluate('bilan').nodeValue, 'default bilan')
  const defaults = Object.fromEntries(
    Object.entries(MAPPING).map(([usage, { scope }]) => [usage, scopeValue(engine, scope, `${usage} default`)]),
  )
  const rows = []
  for (const [usage, { scope, levels }] of Object.entries(MAPPING)) {
    for (const [level, { note, situation }] of Object.entries(levels)) {
      engine.setSituation(situation)
      checkSituation(engine, usage, level, situation)
      rows.push({
        usage,
        level: Number(level),
        kgco2e: scopeValue(engine, scope, `${usage} level ${level}`),
        default_kgco2e: defaults[usage],
        bilan_kgco2e: finite(engine.evaluate('bilan').nodeValue, `${usage} level ${level} bilan`),
        scope: scope.join(' + '),
        situation: JSON.stringify(situation),
        note,
      })
    }
  }
  return { rows, defaultBilan }
}

const COLUMNS = ['usage', 'level', 'kgco2e', 'default_kgco2e', 'bilan_kgco2e', 'scope', 'situation', 'note']

const KG_COLUMNS = new Set(['kgco2e', 'default_kgco2e', 'bilan_kgco2e'])

function csvField(value, column) {
  const text = KG_COLUMNS.has(column) ? value.toFixed(1) : String(value)
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

function toCsv({ rows, defaultBilan }) {
  const today = new Date().toISOString().slice(0, 10)
  const head = [
    '# NosGestesClimat scale of the SU answer levels (kgCO2e per person and year); see qet_geo/footprint.py',
    `# model: ${NGC_PACKAGE} ${ngcVersion} (${MODEL_FILE})`,
    `# engine: publicodes ${publicodesVersion}`,
    `# evaluated: ${today} by scripts/ngc/evaluate.mjs`,
    `# default situation bilan_kgco2e: ${defaultBilan.toFixed(1)}`,
  ]
  const lines = rows.map((row) => COLUMNS.map((c) => csvField(row[c], c)).join(','))
  return [...head, COLUMNS.join(','), ...lines].join('\n') + '\n'
}

function parseCsv(text) {
  // The committed table has quoted fields without embedded newlines: a small reader suffices.
  const lines = text.split('\n').filter((l) => l && !l.startsWith('#'))
  const split = (line) => {
    const out = []
    let cur = ''
    let quoted = false
    for (let i = 0; i < line.length; i++) {
      const ch = line[i]
      if (quoted) {
        if (ch === '"' && line[i + 1] === '"') { cur += '"'; i++ } else if (ch === '"') quoted = false
        else cur += ch
      } else if (ch === '"') quoted = true
      else if (ch === ',') { out.push(cur); cur = '' } else cur += ch
    }
    out.push(cur)
    return out
  }
  const [header, ...body] = lines.map(split)
  return body.map((cells) => Object.fromEntries(header.map((h, i) => [h, cells[i]])))
}

function main(argv) {
  const check = argv.includes('--check')
  const outAt = argv.indexOf('--out')
  const out = outAt >= 0 ? resolve(argv[outAt + 1]) : DEFAULT_OUT
  const result = evaluateScale()
  if (check) {
    const committed = parseCsv(readFileSync(out, 'utf8'))
    const key = (r) => `${r.usage}/${r.level}`
    const known = new Map(committed.map((r) => [key(r), r]))
    const problems = []
    for (const row of result.rows) {
      const old = known.get(key(row))
      if (!old) { problems.push(`${key(row)}: missing from ${out}`); continue }
      for (const c of KG_COLUMNS) {
        if (Math.abs(Number(old[c]) - row[c]) > TOLERANCE_KG) problems.push(`${key(row)} ${c}: table ${old[c]}, model ${row[c].toFixed(1)}`)
      }
      known.delete(key(row))
    }
    for (const k of known.keys()) problems.push(`${k}: in ${out} but not in the mapping`)
    if (problems.length) {
      console.error(`${out} differs from ${NGC_PACKAGE} ${ngcVersion}:\n  ${problems.join('\n  ')}`)
      process.exit(1)
    }
    console.log(`${out} matches ${NGC_PACKAGE} ${ngcVersion} (${result.rows.length} rows)`)
    return
  }
  const tmp = `${out}.tmp`
  writeFileSync(tmp, toCsv(result))
  renameSync(tmp, out)
  console.log(`wrote ${out} (${result.rows.length} rows, ${NGC_PACKAGE} ${ngcVersion})`)
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2))
}
