/*
 * store_commit.c: what group commit buys (`make bench-store`). Pushes
 * ROWS messages into the delivery spool of a fresh database through
 * store.h, once with a commit every 100 rows and once with a commit
 * every row, and prints both rates: the figures docs/storage.md quotes.
 * A measurement, not a test: nothing is asserted about the rates (they
 * are the disk's fsync latency), only that every push and commit worked.
 *
 * usage: store_commit [-n ROWS] [DIR]
 * The database goes in a fresh directory under DIR (default "."), which
 * should be on the disk a server's state would use: on a tmpfs an fsync
 * costs nothing and the two rates come out close.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* rows/s for rows spool pushes to user with a commit every batch rows. */
static double
push_rows(struct store *st, const char *user, int rows, int batch)
{
	double	t0 = now();
	char	xml[64], id[16];
	int	i;

	for (i = 0; i < rows; i++) {
		snprintf(xml, sizeof(xml), "<message to='bob@x'><body>%d"
		    "</body></message>", i);
		snprintf(id, sizeof(id), "i%d", i);
		if (store_spool_push(st, user, id, NULL, xml, i) <= 0)
			errx(1, "store_spool_push failed at row %d", i);
		if ((i + 1) % batch == 0 && store_commit(st) == -1)
			errx(1, "store_commit failed at row %d", i);
	}
	if (store_commit(st) == -1)
		errx(1, "store_commit failed");
	return rows / (now() - t0);
}

/* Remove the database, its WAL files and the directory made for it. */
static void
cleanup(const char *dir, const char *path)
{
	static const char *const	 sfx[] = { "", "-wal", "-shm" };
	char				 p[4200];
	size_t				 i;

	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		(void)unlink(p);
	}
	if (rmdir(dir) == -1)
		warn("rmdir %s", dir);
}

int
main(int argc, char *argv[])
{
	const char	*errstr = NULL;
	char		 dir[4096], path[4120];
	struct store	*st;
	double		 b100, b1;
	int		 c, rows = 10000;

	while ((c = getopt(argc, argv, "n:")) != -1) {
		if (c != 'n' || (rows = atoi(optarg)) <= 0) {
			fprintf(stderr, "usage: store_commit [-n ROWS] [DIR]\n");
			return 2;
		}
	}
	snprintf(dir, sizeof(dir), "%s/store-commit.XXXXXX",
	    optind < argc ? argv[optind] : ".");
	if (mkdtemp(dir) == NULL)
		err(1, "mkdtemp %s", dir);
	snprintf(path, sizeof(path), "%s/xmppd.sqlite", dir);
	if ((st = store_open(path, &errstr)) == NULL)
		errx(1, "%s", errstr);
	b100 = push_rows(st, "bob", rows, 100);
	b1 = push_rows(st, "carol", rows, 1);
	if (store_spool_count(st, "carol") != rows)
		errx(1, "the spool lost rows");
	store_close(st);
	cleanup(dir, path);
	printf("group commit: %d spool pushes, batch 100: %.0f rows/s, "
	    "batch 1: %.0f rows/s (x%.1f), in %s\n", rows, b100, b1,
	    b100 / b1, optind < argc ? argv[optind] : ".");
	return 0;
}
