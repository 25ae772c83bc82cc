/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The lease store: one SQLite database in WAL mode with synchronous=FULL,
 * so a COMMIT that returned is on disk and survives kill -9 (and power
 * loss). Only dynamic leases are stored; static ones come from the
 * configuration at every start.
 *
 * Schema (version 4, docs/CONTROL.md):
 *   meta(key TEXT PRIMARY KEY, value INTEGER)  schema_version, generation,
 *                                               fleet_lease ([fleet]: the
 *                                               etcd lease id, absent or
 *                                               0 for none)
 *   leases(id, holder, kind, ip, lo, hi, clients, state, ttl, expires,
 *          created, drain_since, drain_gen, add_gen, mapping, filtering)
 *   holds(ip, lo, hi, holder, until)            hold-downs (ctld.h)
 *   history(seq, time, generation, event, lease, holder, kind, ip, lo,
 *           hi, ttl, expires, uid, pid)         the audit records,
 *                                               append-only (triggers)
 * Older versions are migrated in place, one step at a time, in the
 * opening transaction: version 1 (no add_gen/mapping/filtering, no holds)
 * gets add_gen 0 and NULL mapping and filtering, which read as the
 * defaults; version 2 gets an empty history; version 3's history is
 * rebuilt, rows kept, to allow the event 'fenced'. A database whose
 * schema_version is newer than ours is refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "ctld.h"

#define SCHEMA_VERSION 4
#define BUSY_TIMEOUT_MS 5000

enum {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_LIST, ST_GET, ST_INSERT,
	ST_UPDATE, ST_DELETE, ST_GEN_GET, ST_GEN_SET, ST_HOLDS, ST_HOLD_PRUNE,
	ST_HOLD_ADD, ST_AUDIT_ADD, ST_HISTORY, ST_META_GET, ST_META_SET,
	ST_COUNT
};

static const char *const sql_text[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_LIST] = "SELECT id, holder, kind, ip, lo, hi, clients, state, ttl,"
		    " expires, created, drain_since, drain_gen, add_gen,"
		    " mapping, filtering FROM leases ORDER BY id",
	[ST_GET] = "SELECT id, holder, kind, ip, lo, hi, clients, state, ttl,"
		   " expires, created, drain_since, drain_gen, add_gen,"
		   " mapping, filtering FROM leases WHERE id = ?1",
	[ST_INSERT] = "INSERT INTO leases (id, holder, kind, ip, lo, hi,"
		      " clients, state, ttl, expires, created, drain_since,"
		      " drain_gen, add_gen, mapping, filtering) VALUES (?1, ?2,"
		      " ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
		      " ?15, ?16)",
	[ST_UPDATE] = "UPDATE leases SET state = ?8, ttl = ?9, expires = ?10,"
		      " drain_since = ?12, drain_gen = ?13 WHERE id = ?1",
	[ST_DELETE] = "DELETE FROM leases WHERE id = ?1",
	[ST_GEN_GET] = "SELECT value FROM meta WHERE key = 'generation'",
	[ST_GEN_SET] = "UPDATE meta SET value = ?1 WHERE key = 'generation'",
	[ST_HOLDS] = "SELECT ip, lo, hi, holder, until FROM holds"
		     " WHERE until > ?1",
	[ST_HOLD_PRUNE] = "DELETE FROM holds WHERE until <= ?1 OR (ip = ?2"
			  " AND holder = ?3 AND lo >= ?4 AND hi <= ?5)",
	[ST_HOLD_ADD] = "INSERT INTO holds (ip, lo, hi, holder, until)"
			" VALUES (?2, ?4, ?5, ?3, ?6)",
	[ST_AUDIT_ADD] = "INSERT INTO history (time, generation, event, lease,"
			 " holder, kind, ip, lo, hi, ttl, expires, uid, pid)"
			 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
			 " ?11, ?12, ?13)",
	/* A NULL parameter is no condition (struct history_query). */
	[ST_HISTORY] = "SELECT seq, time, generation, event, lease, holder,"
		       " kind, ip, lo, hi, ttl, expires, uid, pid FROM history"
		       " WHERE (?1 IS NULL OR ip = ?1)"
		       " AND (?2 IS NULL OR (lo <= ?2 AND ?2 <= hi))"
		       " AND (?3 IS NULL OR lease = ?3)"
		       " AND (?4 IS NULL OR time >= ?4)"
		       " AND (?5 IS NULL OR seq < ?5)"
		       " ORDER BY seq DESC LIMIT ?6",
	[ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[ST_META_SET] = "INSERT OR REPLACE INTO meta (key, value)"
			" VALUES (?1, ?2)",
};

static const char meta_sql[] =
	"CREATE TABLE IF NOT EXISTS meta ("
	" key TEXT PRIMARY KEY, value INTEGER NOT NULL);";

static const char holds_sql[] =
	"CREATE TABLE holds ("
	" ip TEXT NOT NULL,"
	" lo INTEGER NOT NULL CHECK (lo BETWEEN 1 AND 65535),"
	" hi INTEGER NOT NULL CHECK (hi BETWEEN lo AND 65535),"
	" holder TEXT NOT NULL,"
	" until INTEGER NOT NULL);";

/* A new database: the current schema. */
static const char schema_sql[] =
	"CREATE TABLE leases ("
	" id INTEGER PRIMARY KEY CHECK (id BETWEEN 1000 AND 65535),"
	" holder TEXT NOT NULL,"
	" kind TEXT NOT NULL CHECK (kind IN ('nat', 'socket')),"
	" ip TEXT NOT NULL,"
	" lo INTEGER NOT NULL CHECK (lo BETWEEN 1 AND 65535),"
	" hi INTEGER NOT NULL CHECK (hi BETWEEN lo AND 65535),"
	" clients TEXT NOT NULL,"
	" state TEXT NOT NULL CHECK (state IN ('active', 'draining')),"
	" ttl INTEGER, expires INTEGER, created INTEGER NOT NULL,"
	" drain_since INTEGER, drain_gen INTEGER NOT NULL DEFAULT 0,"
	" add_gen INTEGER NOT NULL DEFAULT 0, mapping TEXT, filtering TEXT);"
	"INSERT INTO meta VALUES ('schema_version', 2);"
	"INSERT INTO meta VALUES ('generation', 0);";

/* The lease history (version 4). Append-only: the triggers make an
 * UPDATE or DELETE of a row fail (and its transaction with it), whoever
 * runs it. seq is AUTOINCREMENT so that it never repeats. */
#define HISTORY_SQL \
	"CREATE TABLE history (" \
	" seq INTEGER PRIMARY KEY AUTOINCREMENT," \
	" time INTEGER NOT NULL," \
	" generation INTEGER NOT NULL," \
	" event TEXT NOT NULL CHECK (event IN ('grant', 'renew', 'release'," \
	" 'expire', 'drained', 'fenced'))," \
	" lease INTEGER NOT NULL," \
	" holder TEXT NOT NULL," \
	" kind TEXT NOT NULL CHECK (kind IN ('nat', 'socket'))," \
	" ip TEXT NOT NULL," \
	" lo INTEGER NOT NULL, hi INTEGER NOT NULL," \
	" ttl INTEGER, expires INTEGER," \
	" uid INTEGER, pid INTEGER);"
#define HISTORY_TRIGGERS_SQL \
	"CREATE TRIGGER history_no_update BEFORE UPDATE ON history" \
	" BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;" \
	"CREATE TRIGGER history_no_delete BEFORE DELETE ON history" \
	" BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;"

/* Version 2 to 4: the lease history, empty. */
static const char migrate_2_sql[] =
	HISTORY_SQL HISTORY_TRIGGERS_SQL
	"UPDATE meta SET value = 4 WHERE key = 'schema_version';";

/* Version 3 to 4: the history's CHECK allows 'fenced' ([fleet]). SQLite
 * cannot alter a CHECK, so the table is rebuilt with its rows (seq
 * included, so AUTOINCREMENT goes on from the same number); the
 * triggers go first, or they would refuse the old table's drop. */
static const char migrate_3_sql[] =
	"DROP TRIGGER history_no_update;"
	"DROP TRIGGER history_no_delete;"
	"ALTER TABLE history RENAME TO history_v3;"
	HISTORY_SQL
	"INSERT INTO history SELECT * FROM history_v3 ORDER BY seq;"
	"DROP TABLE history_v3;"
	HISTORY_TRIGGERS_SQL
	"UPDATE meta SET value = 4 WHERE key = 'schema_version';";

/* Version 1 to 2: lease behaviours, the generation that added a lease,
 * hold-downs. */
static const char migrate_1_sql[] =
	"ALTER TABLE leases ADD COLUMN add_gen INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE leases ADD COLUMN mapping TEXT;"
	"ALTER TABLE leases ADD COLUMN filtering TEXT;"
	"UPDATE meta SET value = 2 WHERE key = 'schema_version';";

struct store {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
};

/* SQLite result codes are not errnos: busy/locked and I/O failures get
 * their own codes so the log can tell them apart; everything else is
 * -EIO (reported as "internal"). */
static int sq_err(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -EFBIG; /* not -ENOSPC: that means no_space */
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	default:
		return -EIO;
	}
}

static int exec_simple(struct store *s, int which)
{
	sqlite3_stmt *st = s->st[which];
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : sq_err(rc);
}

/*
 * In one transaction: 1. read schema_version (none: a new database), 2.
 * refuse a newer one, 3. create the version 2 schema for a new database,
 * 4. migrate each older version to the next up to ours. A new database
 * takes the same steps from version 2 as an old one, so both end with
 * the same schema.
 */
static int schema_check(struct store *s, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int64_t version = 0;
	int rc, ret = 0;

	rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	rc = sqlite3_exec(s->db, meta_sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	rc = sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key ="
				" 'schema_version'", -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		version = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	st = NULL;
	rc = SQLITE_OK;
	if (version < 0 || version > SCHEMA_VERSION) {
		snprintf(err, errlen, "schema_version %lld is not %d (written "
			 "by a newer or unknown shoal-ctld); refusing to use it",
			 (long long)version, SCHEMA_VERSION);
		ret = -EPROTO;
		goto out;
	}
	if (version == 0) {
		rc = sqlite3_exec(s->db, schema_sql, NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(s->db, holds_sql, NULL, NULL, NULL);
		version = 2;
	} else if (version == 1) {
		rc = sqlite3_exec(s->db, migrate_1_sql, NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(s->db, holds_sql, NULL, NULL, NULL);
		version = 2;
	}
	if (rc == SQLITE_OK && version == 2)
		rc = sqlite3_exec(s->db, migrate_2_sql, NULL, NULL, NULL);
	else if (rc == SQLITE_OK && version == 3)
		rc = sqlite3_exec(s->db, migrate_3_sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "schema: %s", sqlite3_errmsg(s->db));
	ret = sq_err(rc);
out:
	sqlite3_finalize(st);
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

/*
 * Open (creating if needed) the database at @path: WAL, synchronous=FULL,
 * busy_timeout, schema created or checked. 0, or -errno with a message in
 * @err.
 */
int store_open(struct store **out, const char *path, char *err, size_t errlen)
{
	struct store *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
			     SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
			 s->db ? sqlite3_errmsg(s->db) : "cannot open");
		rc = sq_err(rc);
		goto fail;
	}
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	rc = sqlite3_exec(s->db, "PRAGMA journal_mode=WAL;"
			  "PRAGMA synchronous=FULL;", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(s->db));
		rc = sq_err(rc);
		goto fail;
	}
	rc = schema_check(s, err, errlen);
	if (rc)
		goto fail;
	for (int i = 0; i < ST_COUNT; i++) {
		int r = sqlite3_prepare_v3(s->db, sql_text[i], -1,
					   SQLITE_PREPARE_PERSISTENT,
					   &s->st[i], NULL);
		if (r != SQLITE_OK) {
			snprintf(err, errlen, "%s: %s", path,
				 sqlite3_errmsg(s->db));
			rc = sq_err(r);
			goto fail;
		}
	}
	*out = s;
	return 0;
fail:
	store_close(s);
	return rc;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	free(s);
}

int store_begin(struct store *s)
{
	return exec_simple(s, ST_BEGIN);
}

int store_commit(struct store *s)
{
	return exec_simple(s, ST_COMMIT);
}

void store_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		exec_simple(s, ST_ROLLBACK);
}

static void bind_opt(sqlite3_stmt *st, int i, int64_t v)
{
	if (v < 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, v);
}

static int64_t col_opt(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ?
	       -1 : sqlite3_column_int64(st, i);
}

/* Clients are stored as "a.b.c.d/len,..." (readable with sqlite3). */
static int clients_parse(const char *text, struct ctl_lease *l)
{
	char buf[SHOAL_MAX_CLIENTS * 20], *save = NULL;

	l->n_clients = 0;
	if (snprintf(buf, sizeof(buf), "%s", text) >= (int)sizeof(buf))
		return -EINVAL;
	for (char *t = strtok_r(buf, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		if (l->n_clients == SHOAL_MAX_CLIENTS ||
		    sh_parse_prefix(t, &l->clients[l->n_clients], NULL))
			return -EINVAL;
		l->n_clients++;
	}
	return 0;
}

static void clients_format(const struct ctl_lease *l, char *buf, size_t len)
{
	size_t off = 0;
	char a[16];

	buf[0] = '\0';
	for (unsigned i = 0; i < l->n_clients && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%s/%u", i ? "," : "",
				sh_fmt_ipv4(l->clients[i].addr, a),
				l->clients[i].len);
}

static int row_read(sqlite3_stmt *st, struct ctl_lease *l)
{
	const char *holder = (const char *)sqlite3_column_text(st, 1);
	const char *kind = (const char *)sqlite3_column_text(st, 2);
	const char *ip = (const char *)sqlite3_column_text(st, 3);
	const char *clients = (const char *)sqlite3_column_text(st, 6);
	const char *state = (const char *)sqlite3_column_text(st, 7);

	memset(l, 0, sizeof(*l));
	if (!holder || !kind || !ip || !clients || !state)
		return -EIO;
	l->id = (uint32_t)sqlite3_column_int64(st, 0);
	snprintf(l->holder, sizeof(l->holder), "%s", holder);
	l->kind = strcmp(kind, "nat") ? SH_LEASE_SOCKET : SH_LEASE_NAT;
	if (sh_parse_ipv4(ip, &l->ip) || clients_parse(clients, l))
		return -EIO;
	l->lo = (uint16_t)sqlite3_column_int(st, 4);
	l->hi = (uint16_t)sqlite3_column_int(st, 5);
	l->draining = !strcmp(state, "draining");
	l->ttl = col_opt(st, 8);
	l->expires = col_opt(st, 9);
	l->created = sqlite3_column_int64(st, 10);
	l->drain_since = col_opt(st, 11);
	l->drain_gen = (uint64_t)sqlite3_column_int64(st, 12);
	l->add_gen = (uint64_t)sqlite3_column_int64(st, 13);
	/* NULL (a socket lease, or a lease of schema version 1): defaults */
	if (sqlite3_column_type(st, 14) != SQLITE_NULL &&
	    sh_parse_mapping((const char *)sqlite3_column_text(st, 14),
			     &l->mapping))
		return -EIO;
	if (sqlite3_column_type(st, 15) != SQLITE_NULL &&
	    sh_parse_filtering((const char *)sqlite3_column_text(st, 15),
			       &l->filtering))
		return -EIO;
	return 0;
}

/* Every dynamic lease, ordered by id, into @out (at most @max). */
int store_list(struct store *s, struct ctl_lease *out, unsigned max,
	       unsigned *n)
{
	sqlite3_stmt *st = s->st[ST_LIST];
	int rc, ret = 0;

	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == max) {
			ret = -E2BIG;
			break;
		}
		ret = row_read(st, &out[*n]);
		if (ret)
			break;
		(*n)++;
	}
	if (!ret && rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = sq_err(rc);
	sqlite3_reset(st);
	return ret;
}

/* 0, -ENOENT when no dynamic lease has @id, or -errno. */
int store_get(struct store *s, uint32_t id, struct ctl_lease *out)
{
	sqlite3_stmt *st = s->st[ST_GET];
	int rc, ret;

	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		ret = row_read(st, out);
	else
		ret = rc == SQLITE_DONE ? -ENOENT : sq_err(rc);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

static void bind_lease(sqlite3_stmt *st, const struct ctl_lease *l,
		       bool all)
{
	sqlite3_bind_int64(st, 1, l->id);
	if (all) {
		char ip[16], clients[SHOAL_MAX_CLIENTS * 20];

		clients_format(l, clients, sizeof(clients));
		sqlite3_bind_text(st, 2, l->holder, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, l->kind == SH_LEASE_NAT ? "nat" :
				  "socket", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, sh_fmt_ipv4(l->ip, ip), -1,
				  SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 5, l->lo);
		sqlite3_bind_int(st, 6, l->hi);
		sqlite3_bind_text(st, 7, clients, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 11, l->created);
		sqlite3_bind_int64(st, 14, (int64_t)l->add_gen);
		if (l->kind == SH_LEASE_NAT) {
			sqlite3_bind_text(st, 15, sh_mapping_name(l->mapping),
					  -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 16,
					  sh_filtering_name(l->filtering), -1,
					  SQLITE_STATIC);
		}
	}
	sqlite3_bind_text(st, 8, l->draining ? "draining" : "active", -1,
			  SQLITE_STATIC);
	bind_opt(st, 9, l->ttl);
	bind_opt(st, 10, l->expires);
	bind_opt(st, 12, l->drain_since);
	sqlite3_bind_int64(st, 13, (int64_t)l->drain_gen);
}

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : sq_err(rc);
}

int store_insert(struct store *s, const struct ctl_lease *l)
{
	bind_lease(s->st[ST_INSERT], l, true);
	return step_done(s->st[ST_INSERT]);
}

/* Writes the mutable columns: state, ttl, expires, drain_since/gen. */
int store_update(struct store *s, const struct ctl_lease *l)
{
	int rc;

	bind_lease(s->st[ST_UPDATE], l, false);
	rc = step_done(s->st[ST_UPDATE]);
	if (!rc && sqlite3_changes(s->db) != 1)
		rc = -ENOENT;
	return rc;
}

int store_delete(struct store *s, uint32_t id)
{
	sqlite3_bind_int64(s->st[ST_DELETE], 1, id);
	return step_done(s->st[ST_DELETE]);
}

int store_gen_get(struct store *s, uint64_t *gen)
{
	sqlite3_stmt *st = s->st[ST_GEN_GET];
	int rc = sqlite3_step(st), ret = 0;

	if (rc == SQLITE_ROW)
		*gen = (uint64_t)sqlite3_column_int64(st, 0);
	else
		ret = rc == SQLITE_DONE ? -EIO : sq_err(rc);
	sqlite3_reset(st);
	return ret;
}

int store_gen_set(struct store *s, uint64_t gen)
{
	sqlite3_bind_int64(s->st[ST_GEN_SET], 1, (int64_t)gen);
	return step_done(s->st[ST_GEN_SET]);
}

int store_meta_get(struct store *s, const char *key, int64_t *value)
{
	sqlite3_stmt *st = s->st[ST_META_GET];
	int rc, ret = 0;

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*value = sqlite3_column_int64(st, 0);
	else
		ret = rc == SQLITE_DONE ? -ENOENT : sq_err(rc);
	sqlite3_reset(st);
	return ret;
}

int store_meta_set(struct store *s, const char *key, int64_t value)
{
	sqlite3_bind_text(s->st[ST_META_SET], 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s->st[ST_META_SET], 2, value);
	return step_done(s->st[ST_META_SET]);
}

int store_holds(struct store *s, int64_t now, struct ctl_hold *out,
		unsigned max, unsigned *n)
{
	sqlite3_stmt *st = s->st[ST_HOLDS];
	int rc, ret = 0;

	*n = 0;
	sqlite3_bind_int64(st, 1, now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *ip = (const char *)sqlite3_column_text(st, 0);
		const char *holder = (const char *)sqlite3_column_text(st, 3);
		struct ctl_hold *h = &out[*n];

		if (*n == max) {
			ret = -E2BIG;
			break;
		}
		if (!ip || !holder || sh_parse_ipv4(ip, &h->ip)) {
			ret = -EIO;
			break;
		}
		h->lo = (uint16_t)sqlite3_column_int(st, 1);
		h->hi = (uint16_t)sqlite3_column_int(st, 2);
		snprintf(h->holder, sizeof(h->holder), "%s", holder);
		h->until = sqlite3_column_int64(st, 4);
		(*n)++;
	}
	if (!ret && rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = sq_err(rc);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

static void bind_hold(sqlite3_stmt *st, const struct ctl_hold *h,
		      int64_t now)
{
	char ip[16];

	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_text(st, 2, sh_fmt_ipv4(h->ip, ip), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, h->holder, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 4, h->lo);
	sqlite3_bind_int(st, 5, h->hi);
	sqlite3_bind_int64(st, 6, h->until);
}

int store_hold_add(struct store *s, const struct ctl_hold *h, int64_t now)
{
	int rc;

	bind_hold(s->st[ST_HOLD_PRUNE], h, now);
	rc = step_done(s->st[ST_HOLD_PRUNE]);
	if (rc)
		return rc;
	bind_hold(s->st[ST_HOLD_ADD], h, now);
	return step_done(s->st[ST_HOLD_ADD]);
}

int store_audit_add(struct store *s, const struct ctl_audit *a)
{
	sqlite3_stmt *st = s->st[ST_AUDIT_ADD];
	const struct ctl_lease *l = &a->lease;
	char ip[16];

	sqlite3_bind_int64(st, 1, a->time);
	sqlite3_bind_int64(st, 2, (int64_t)a->generation);
	sqlite3_bind_text(st, 3, ctl_event_name(a->event), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, l->id);
	sqlite3_bind_text(st, 5, l->holder, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 6, l->kind == SH_LEASE_NAT ? "nat" : "socket",
			  -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, sh_fmt_ipv4(l->ip, ip), -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 8, l->lo);
	sqlite3_bind_int(st, 9, l->hi);
	bind_opt(st, 10, l->ttl);
	bind_opt(st, 11, l->expires);
	if (a->who.peer) {
		sqlite3_bind_int64(st, 12, a->who.uid);
		sqlite3_bind_int64(st, 13, a->who.pid);
	}
	return step_done(st);
}

static int audit_read(sqlite3_stmt *st, struct ctl_audit *a)
{
	const char *event = (const char *)sqlite3_column_text(st, 3);
	const char *holder = (const char *)sqlite3_column_text(st, 5);
	const char *kind = (const char *)sqlite3_column_text(st, 6);
	const char *ip = (const char *)sqlite3_column_text(st, 7);
	struct ctl_lease *l = &a->lease;

	memset(a, 0, sizeof(*a));
	if (!event || !holder || !kind || !ip)
		return -EIO;
	a->seq = sqlite3_column_int64(st, 0);
	a->time = sqlite3_column_int64(st, 1);
	a->generation = (uint64_t)sqlite3_column_int64(st, 2);
	a->event = CTL_EV_COUNT;
	for (int e = 0; e < CTL_EV_COUNT; e++)
		if (!strcmp(event, ctl_event_name(e)))
			a->event = e;
	if (a->event == CTL_EV_COUNT || sh_parse_ipv4(ip, &l->ip))
		return -EIO;
	l->id = (uint32_t)sqlite3_column_int64(st, 4);
	snprintf(l->holder, sizeof(l->holder), "%s", holder);
	l->kind = strcmp(kind, "nat") ? SH_LEASE_SOCKET : SH_LEASE_NAT;
	l->lo = (uint16_t)sqlite3_column_int(st, 8);
	l->hi = (uint16_t)sqlite3_column_int(st, 9);
	l->ttl = col_opt(st, 10);
	l->expires = col_opt(st, 11);
	a->who.peer = sqlite3_column_type(st, 12) != SQLITE_NULL;
	a->who.uid = (uint32_t)sqlite3_column_int64(st, 12);
	a->who.pid = (int32_t)sqlite3_column_int64(st, 13);
	return 0;
}

int store_history(struct store *s, const struct history_query *q,
		  struct ctl_audit *out, unsigned max, unsigned *n)
{
	sqlite3_stmt *st = s->st[ST_HISTORY];
	char ip[16];
	int rc = SQLITE_DONE, ret = 0;

	*n = 0;
	if (q->has_ip)
		sqlite3_bind_text(st, 1, sh_fmt_ipv4(q->ip, ip), -1,
				  SQLITE_TRANSIENT);
	bind_opt(st, 2, q->port);
	bind_opt(st, 3, q->lease);
	bind_opt(st, 4, q->since);
	bind_opt(st, 5, q->before);
	sqlite3_bind_int64(st, 6, max);
	while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		ret = audit_read(st, &out[*n]);
		if (ret)
			break;
		(*n)++;
	}
	if (!ret && *n < max && rc != SQLITE_DONE)
		ret = sq_err(rc);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}
