// Node's `pg` driver through a pooler: CLIENTS concurrent connections, each running ROUNDS
// rounds of a mix of named prepared statements, transactions (committed and rolled back),
// session-level SET of reported parameters, and errors inside transactions. Checks every
// result against the value it must have and prints one JSON summary on stdout; the Python
// test (../test_driver_node.py) asserts on it.
//
// Environment: PGHOST, PGPORT, PGUSER, PGDATABASE (where to connect), MIX_CLIENTS,
// MIX_ROUNDS, MIX_TABLE (a table (client int, round int, v bigint) the clients write to).
'use strict'

const { Client } = require('pg')

const CLIENTS = parseInt(process.env.MIX_CLIENTS || '8', 10)
const ROUNDS = parseInt(process.env.MIX_ROUNDS || '20', 10)
const TABLE = process.env.MIX_TABLE || 'driver_mix'
const TIMEZONES = ['UTC', 'Europe/Paris', 'Asia/Tokyo', 'America/New_York', 'Australia/Sydney',
  'America/Sao_Paulo', 'Asia/Kolkata', 'Africa/Cairo']

// Named statements: prepared once per client connection by the driver (Parse), then only
// Bind/Execute, whichever server connection the pooler hands the client.
const Q = {
  add: { name: 'q_add', text: 'SELECT $1::int + 1 AS v, pg_backend_pid() AS pid' },
  concat: { name: 'q_concat', text: "SELECT $1::text || ':' || $2::text AS s, length($1::text) AS n" },
  insert: { name: 'q_insert', text: `INSERT INTO ${TABLE} (client, round, v) VALUES ($1, $2, $3)` },
  total: { name: 'q_total', text: `SELECT count(*)::int AS n, coalesce(sum(v), 0)::text AS total, pg_backend_pid() AS pid FROM ${TABLE} WHERE client = $1` },
  settings: { name: 'q_settings', text: "SELECT current_setting('application_name') AS app, current_setting('TimeZone') AS tz, $1::int AS echo" },
  div: { name: 'q_div', text: 'SELECT $1::int / $2::int AS q' },
  missing: { name: 'q_missing', text: 'SELECT v FROM no_such_table WHERE v = $1' },
}

const valueOf = (client, round) => client * 1000 + round
const committed = (round) => round % 4 !== 2 // the other rounds roll back on purpose

async function runClient (i) {
  const res = {
    client: i,
    pids: [],
    prepared_runs: 0,
    commits: 0,
    rollbacks: 0,
    expected_errors: {}, // SQLSTATE -> count
    failures: [],
    final_settings: null,
    expected_settings: null,
  }
  const pids = new Set()
  const check = (what, got, expected) => {
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      res.failures.push(`client ${i}: ${what}: got ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`)
    }
  }
  const run = (q, values) => client.query({ name: q.name, text: q.text, values })
  const expectError = async (what, code, fn) => {
    try {
      await fn()
      res.failures.push(`client ${i}: ${what}: no error, expected SQLSTATE ${code}`)
    } catch (err) {
      if (err.code === code) {
        res.expected_errors[code] = (res.expected_errors[code] || 0) + 1
      } else {
        res.failures.push(`client ${i}: ${what}: expected SQLSTATE ${code}, got ${err.code}: ${err.message}`)
      }
    }
  }

  const client = new Client({ connectionTimeoutMillis: 10000 })
  await client.connect()
  try {
    let appName = `node-client-${i}`
    let tz = TIMEZONES[i % TIMEZONES.length]
    await client.query(`SET application_name = '${appName}'`)
    await client.query(`SET TimeZone = '${tz}'`)
    let runningTotal = 0

    for (let round = 0; round < ROUNDS; round++) {
      try {
        // Named prepared statements outside a transaction.
        const a = await run(Q.add, [round * 10 + i])
        check(`round ${round} add`, a.rows[0].v, round * 10 + i + 1)
        pids.add(a.rows[0].pid)
        res.prepared_runs++
        const c = await run(Q.concat, [`c${i}`, `r${round}`])
        check(`round ${round} concat`, [c.rows[0].s, c.rows[0].n], [`c${i}:r${round}`, `c${i}`.length])

        // A transaction: insert, read back, the same backend throughout; commit or roll back.
        const v = valueOf(i, round)
        await client.query('BEGIN')
        await run(Q.insert, [i, round, v])
        const t = await run(Q.total, [i])
        check(`round ${round} in-transaction total`, t.rows[0].total, String(runningTotal + v))
        const a2 = await run(Q.add, [round])
        check(`round ${round} add in transaction`, a2.rows[0].v, round + 1)
        check(`round ${round} backend stays within a transaction`, a2.rows[0].pid, t.rows[0].pid)
        pids.add(a2.rows[0].pid)
        res.prepared_runs++
        if (committed(round)) {
          await client.query('COMMIT')
          runningTotal += v
          res.commits++
        } else {
          await client.query('ROLLBACK')
          res.rollbacks++
        }

        // Session settings are this client's own, whichever server connection runs this.
        const s = await run(Q.settings, [round])
        check(`round ${round} settings`, [s.rows[0].app, s.rows[0].tz, s.rows[0].echo], [appName, tz, round])

        if (round % 3 === 1) {
          // Division by zero inside a transaction; the transaction is failed until ROLLBACK.
          await client.query('BEGIN')
          const d = await run(Q.div, [round * 6, 3])
          check(`round ${round} div`, d.rows[0].q, round * 2)
          await expectError(`round ${round} division by zero`, '22012', () => run(Q.div, [round, 0]))
          await expectError(`round ${round} statement in failed transaction`, '25P02', () => run(Q.add, [1]))
          await client.query('ROLLBACK')
        }
        if (round % 5 === 3) {
          // A named statement whose Parse fails (undefined table), inside a transaction.
          await client.query('BEGIN')
          await expectError(`round ${round} undefined table`, '42P01', () => run(Q.missing, [round]))
          await client.query('ROLLBACK')
        }
        if (round === Math.floor(ROUNDS / 2)) {
          tz = TIMEZONES[(i + 3) % TIMEZONES.length]
          appName = `node-client-${i}-b`
          await client.query(`SET TimeZone = '${tz}'`)
          await client.query(`SET application_name = '${appName}'`)
        }
      } catch (err) {
        res.failures.push(`client ${i} round ${round}: unexpected error ${err.code || ''}: ${err.message}`)
        try { await client.query('ROLLBACK') } catch (_) { /* carry on with the next round */ }
      }
    }
    const s = await run(Q.settings, [-1])
    res.final_settings = [s.rows[0].app, s.rows[0].tz]
    res.expected_settings = [appName, tz]
  } finally {
    await client.end()
  }
  res.pids = [...pids].sort((a, b) => a - b)
  return res
}

async function main () {
  const started = Date.now()
  const results = await Promise.all(
    Array.from({ length: CLIENTS }, (_, i) => runClient(i).catch((err) => ({
      client: i, died: `${err.code || ''} ${err.stack || err.message}`, failures: [`client ${i} died: ${err.message}`],
    }))))
  process.stdout.write(JSON.stringify({
    clients: CLIENTS, rounds: ROUNDS, elapsed_ms: Date.now() - started, results,
  }) + '\n')
}

main().catch((err) => {
  process.stderr.write(`driver_mix: ${err.stack || err}\n`)
  process.exit(2)
})
