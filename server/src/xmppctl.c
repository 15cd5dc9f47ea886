/*
 * xmppctl.c: the admin tool. `xmppctl ha1 LOGIN REALM` reads a password
 * from standard input and prints the users.txt line for it, so an
 * operator can add a test account without the password in argv or history.
 */
#include <stdio.h>
#include <string.h>

#include "ha1.h"

static int
usage(void)
{
	fprintf(stderr, "usage: xmppctl ha1 login realm < password\n");
	return 2;
}

int
main(int argc, char *argv[])
{
	char	pass[1024], ha1[33];
	size_t	len;

	if (argc != 4 || strcmp(argv[1], "ha1") != 0)
		return usage();
	if (fgets(pass, sizeof(pass), stdin) == NULL) {
		fprintf(stderr, "xmppctl: no password on standard input\n");
		return 1;
	}
	len = strcspn(pass, "\r\n");
	pass[len] = '\0';
	if (len == 0) {
		fprintf(stderr, "xmppctl: empty password\n");
		return 1;
	}
	ha1_hex(argv[2], argv[3], pass, ha1);
	explicit_bzero(pass, sizeof(pass));
	printf("%s:%s:%s:AUTHORIZED\n", argv[2], ha1, argv[3]);
	return 0;
}
