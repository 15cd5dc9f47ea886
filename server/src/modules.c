/*
 * modules.c: the module table. Adding a module adds one line here. Only
 * main.c reads it (module_init), so nothing below it knows the list.
 */
#include <stddef.h>

#include "module.h"

const struct module *const modules_all[] = {
	&mod_disco,
	&mod_ping,
	&mod_version,
	&mod_roster,
	&mod_presence,
	&mod_offline,
	&mod_mam,
	&mod_carbons,
	NULL,
};
