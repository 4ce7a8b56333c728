/* client.h - `keyward services ...` and `keyward keys ...`: thin clients of a running server's
 * admin API (libcurl + jansson). Address from KEYWARD_ADDR (default http://127.0.0.1:8080), root
 * token from KEYWARD_TOKEN (never from argv). Human-readable tables by default, --json for scripts.
 * argv[0] is the subcommand word ("services" / "keys"). Return value is the process exit code:
 * 0 ok, 1 the server refused (problem printed to stderr), 2 usage error, 3 cannot reach server. */
#ifndef KW_CLI_CLIENT_H
#define KW_CLI_CLIENT_H

int kw_cli_services(int argc, char **argv);
int kw_cli_keys(int argc, char **argv);

#endif
