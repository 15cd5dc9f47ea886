/*
 * store_health.c: keeping the database writable, and noticing when it is
 * not. Called once a second from the event loop (store_tick), never from
 * the commit path.
 *
 * - The reserve: a file of store-reserve bytes next to the database. When
 *   a write fails for lack of room, or free space falls under half the
 *   reserve, the store degrades and the reserve is deleted, so that a WAL
 *   checkpoint and the deletion of delivered messages still fit while new
 *   messages are refused. Recovery needs twice the reserve free and a test
 *   write that commits; then the reserve is taken again.
 * - The WAL: SQLite's automatic checkpoint is off (it runs inside COMMIT);
 *   here a passive checkpoint runs once the WAL holds more than about a
 *   MiB, and journal_size_limit (store.c) shrinks the file after it. On a
 *   small file system the WAL therefore stays small instead of growing
 *   until it fills the disk.
 * - The file's identity: a database moved, deleted or replaced under a
 *   running server (SQLITE_FCNTL_HAS_MOVED) makes every later commit fail;
 *   the caller exits so that systemd restarts it on the real file.
 * - The marker (path.marker): written once a database exists, so a start
 *   that finds the marker but no database knows data was lost, and refuses
 *   to start with an empty one unless told to (--init).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "store_priv.h"
#include "xmalloc.h"

/* WAL frames (pages) after which the timer checkpoints: about 1 MiB. */
#define STORE_CKPT_FRAMES	256

static int
store_on_wal(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store	*st = arg;

	(void)db;
	(void)name;
	st->wal_frames = frames;
	return SQLITE_OK;
}

void
store_health_open(struct store *st)
{
	sqlite3_wal_hook(st->db, store_on_wal, st);
}

bool
store_degraded(const struct store *st)
{
	return st->degraded || st->gone;
}

const char *
store_degraded_why(const struct store *st)
{
	if (st->gone)
		return "database file moved or deleted";
	return st->degraded ? st->why : "";
}

void
store_release_ballast(struct store *st)
{
	if (!st->ballast_held)
		return;
	if (unlink(st->ballast) == -1 && errno != ENOENT) {
		log_warn("store: reserve %s", st->ballast);
		return;
	}
	st->ballast_held = false;
	log_warnx("store: reserve %s released (%llu bytes) for checkpoints "
	    "and deletions", st->ballast, (unsigned long long)st->reserve);
}

void
store_degrade(struct store *st, const char *why, bool no_room)
{
	if (no_room && !st->no_room) {
		st->no_room = true;
		store_release_ballast(st);
	}
	if (st->degraded)
		return;
	st->degraded = true;
	snprintf(st->why, sizeof(st->why), "%s", why);
	log_warnx("store: %s: DEGRADED (%s): new messages and changes are "
	    "refused (resource-constraint) until writes work again",
	    st->path, why);
}

void
store_degrade_err(struct store *st)
{
	int	code = st->last_err & 0xff;

	store_degrade(st, sqlite3_errstr(st->last_err),
	    code == SQLITE_FULL || (code == SQLITE_IOERR &&
	    st->last_err == SQLITE_IOERR_WRITE));
}

/* Take the reserve: a file of st->reserve bytes; 0 or -1 (logged). */
static int
store_take_ballast(struct store *st)
{
	int	fd, rc;

	fd = open(st->ballast, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1) {
		log_warn("store: reserve %s", st->ballast);
		return -1;
	}
	/* The size configured now, also when an earlier one was larger. */
	rc = ftruncate(fd, (off_t)st->reserve) == -1 ? errno :
	    posix_fallocate(fd, 0, (off_t)st->reserve);
	if (rc == 0 && fsync(fd) == -1)
		rc = errno;
	close(fd);
	if (rc != 0) {
		(void)unlink(st->ballast);
		log_warnx("store: reserve %s: %s", st->ballast, strerror(rc));
		return -1;
	}
	st->ballast_held = true;
	return 0;
}

void
store_set_reserve(struct store *st, const char *reserve_path, uint64_t bytes)
{
	free(st->ballast);
	st->ballast = xstrdup(reserve_path);
	st->reserve = bytes;
	if (bytes == 0) {
		/* A reserve left by an earlier configuration. */
		(void)unlink(st->ballast);
		return;
	}
	if (store_take_ballast(st) == -1)
		store_degrade(st, "no room for the reserve", true);
}

/* Bytes an unprivileged writer may still use there, or -1. */
static int64_t
store_free_bytes(const struct store *st)
{
	struct statvfs	v;

	if (statvfs(st->path, &v) == -1)
		return -1;
	return (int64_t)v.f_bavail * (int64_t)v.f_frsize;
}

/*
 * A test write that must commit: the health row. Quiet (it runs every
 * second while degraded); false if a batch is open (its own commit will
 * tell) or anything fails.
 */
static bool
store_probe(struct store *st)
{
	sqlite3_stmt	*q = st->q[STORE_Q_HEALTH_PUT];
	bool		 ok;

	if (!sqlite3_get_autocommit(st->db) ||
	    sqlite3_step(st->q[STORE_Q_BEGIN]) != SQLITE_DONE) {
		sqlite3_reset(st->q[STORE_Q_BEGIN]);
		return false;
	}
	sqlite3_reset(st->q[STORE_Q_BEGIN]);
	ok = sqlite3_bind_int64(q, 1, (sqlite3_int64)time(NULL)) ==
	    SQLITE_OK && sqlite3_step(q) == SQLITE_DONE;
	store_q_done(q);
	if (ok) {
		ok = sqlite3_step(st->q[STORE_Q_COMMIT]) == SQLITE_DONE;
		sqlite3_reset(st->q[STORE_Q_COMMIT]);
	}
	if (!sqlite3_get_autocommit(st->db)) {
		sqlite3_step(st->q[STORE_Q_ROLLBACK]);
		sqlite3_reset(st->q[STORE_Q_ROLLBACK]);
	}
	return ok;
}

/*
 * Out of degraded mode once a test write commits; after a lack of space
 * only with twice the reserve free, and the reserve taken again.
 */
static void
store_try_recover(struct store *st, int64_t avail)
{
	if (st->no_room && st->reserve > 0 && (avail < 0 ||
	    (uint64_t)avail < 2 * st->reserve))
		return;
	if (!store_probe(st))
		return;
	if (st->no_room && st->reserve > 0 && store_take_ballast(st) == -1)
		return;
	st->degraded = false;
	st->no_room = false;
	st->why[0] = '\0';
	log_warnx("store: %s: recovered: writes work again, new messages are "
	    "accepted", st->path);
}

/*
 * A passive checkpoint once the WAL holds more than STORE_CKPT_FRAMES.
 * It cannot run inside the batch, and under steady load a batch is open
 * whenever a timer fires: then it is left to the end of the next commit
 * (store_commit calls this again when ckpt_due is set).
 */
void
store_checkpoint(struct store *st)
{
	int	frames = 0, done = 0;

	if (st->wal_frames < STORE_CKPT_FRAMES)
		return;
	if (!sqlite3_get_autocommit(st->db)) {
		st->ckpt_due = true;
		return;
	}
	st->ckpt_due = false;
	if (sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    &frames, &done) == SQLITE_OK && done >= frames)
		st->wal_frames = 0;
}

/* Checkpoint everything and cut the WAL file to zero, if nothing runs. */
static void
store_truncate_wal(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		return;
	if (sqlite3_wal_checkpoint_v2(st->db, NULL,
	    SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) == SQLITE_OK)
		st->wal_frames = 0;
}

void
store_check_moved(struct store *st)
{
	int	moved = 0;

	if (st->gone)
		return;
	if (sqlite3_file_control(st->db, "main", SQLITE_FCNTL_HAS_MOVED,
	    &moved) == SQLITE_OK && moved) {
		st->gone = true;
		log_warnx("store: %s was moved, deleted or replaced while in "
		    "use: nothing more is acknowledged", st->path);
	}
}

enum store_health
store_tick(struct store *st)
{
	int64_t	avail;

	store_check_moved(st);
	if (st->gone)
		return STORE_GONE;
	avail = store_free_bytes(st);
	if (!st->degraded && st->reserve > 0 && avail >= 0 &&
	    (uint64_t)avail < st->reserve / 2)
		store_degrade(st, "low disk space", true);
	if (st->no_room) {
		/* The WAL only shrinks when a writer restarts it, and nothing
		 * is written now: give its space back with a truncating
		 * checkpoint, so that recovery does not wait for a restart. */
		store_truncate_wal(st);
		avail = store_free_bytes(st);
	}
	if (st->degraded)
		store_try_recover(st, avail);
	store_checkpoint(st);
	return st->degraded ? STORE_DEGRADED : STORE_OK;
}

static char	store_marker_err[1024];

int
store_marker_check(const char *path, bool init, const char **errstr)
{
	struct stat	 sb;
	char		*marker;
	int		 ret = 0;

	if (init)
		return 0;
	xasprintf(&marker, "%s.marker", path);
	if (stat(marker, &sb) == 0 && (stat(path, &sb) == -1 ||
	    sb.st_size == 0)) {
		snprintf(store_marker_err, sizeof(store_marker_err),
		    "%s: the database is missing or empty, but %s says one "
		    "was created here: restore it from a backup, or start once "
		    "with --init to begin with an empty database", path,
		    marker);
		*errstr = store_marker_err;
		ret = -1;
	}
	free(marker);
	return ret;
}

/* fsync the directory holding path, so a rename in it is durable. */
static void
store_sync_dir(const char *path)
{
	char	*dir, *slash;
	int	 fd;

	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		snprintf(dir, strlen(dir) + 1, ".");
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(fd);
		close(fd);
	}
	free(dir);
}

int
store_marker_write(const char *path)
{
	struct stat	 sb;
	char		*marker, *tmp, stamp[32];
	time_t		 now = time(NULL);
	struct tm	 tm;
	FILE		*f;
	int		 ret = -1;

	xasprintf(&marker, "%s.marker", path);
	xasprintf(&tmp, "%s.tmp", marker);
	if (stat(marker, &sb) == 0) {
		ret = 0;
		goto done;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if ((f = fopen(tmp, "w")) == NULL)
		goto fail;
	fprintf(f, "xmppd: a database was created at %s on %s\n", path, stamp);
	if (fflush(f) == EOF || fsync(fileno(f)) == -1) {
		fclose(f);
		goto fail;
	}
	if (fclose(f) == EOF || rename(tmp, marker) == -1)
		goto fail;
	store_sync_dir(marker);
	ret = 0;
	goto done;
 fail:
	log_warn("store: marker %s", marker);
	(void)unlink(tmp);
 done:
	free(tmp);
	free(marker);
	return ret;
}
