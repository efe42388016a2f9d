/*
 * Unit tests for daemon/config.c: every validation error names its key path
 * and what was expected; defaults; secrets never described.
 *
 * Texts are written with ' for " to stay readable; q() swaps them.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"
#include "tap.h"

/* Return a copy of s with every ' turned into ". */
static char *
q(const char *s)
{
	char	*out = strdup(s), *p;

	for (p = out; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	return out;
}

/* Expect the text to be refused with a message starting with want. */
static void
bad(const char *text, const char *want)
{
	struct config	*cf;
	char		*t = q(text), *cause = NULL, *w = q(want);

	cf = config_parse(t, strlen(t), "test.json", &cause);
	if (!ok(cf == NULL && cause != NULL && strncmp(cause, w,
	    strlen(w)) == 0, "refused: %s", w))
		printf("# text: %s\n# got: %s\n", t, cause ? cause : "(none)");
	config_free(cf);
	free(cause);
	free(t);
	free(w);
}

/* Parse a text that must be valid. */
static struct config *
good(const char *text)
{
	struct config	*cf;
	char		*t = q(text), *cause = NULL;

	cf = config_parse(t, strlen(t), "test.json", &cause);
	if (!ok(cf != NULL, "accepted: %.60s", t))
		printf("# error: %s\n", cause);
	free(cause);
	free(t);
	return cf;
}

/* A bad account: wraps one account object into a document. */
static void
bad_account(const char *acct, const char *want)
{
	char	 text[2048];

	snprintf(text, sizeof text, "{'accounts':[%s]}", acct);
	bad(text, want);
}

#define POP3_OK "'pop3':{'host':'h','user':'u','password':'p'}"
#define ACCT(x) "{'name':'a','email':'a@b.test'," x "}"
#define POP3(x) ACCT("'pop3':{'host':'h','user':'u','password':'p'," x "}")
#define SMTP(x) ACCT("'smtp':{'host':'h'," x "}")

static void
test_top_level(void)
{
	bad("{", "line 1, column 1:");
	bad("{'a':1,'a':2}", "line 1");
	bad("[]", "(top level): expected a JSON object");
	bad("{'pol_interval':5}", "pol_interval: unknown key (expected one of "
	    "data_dir, socket, poll_interval");
	bad("{'data_dir':5}", "data_dir: expected a non-empty string");
	bad("{'data_dir':''}", "data_dir: expected a non-empty string");
	bad("{'data_dir':'rel/dir'}", "data_dir: expected an absolute path");
	bad("{'data_dir':'~bob/x'}", "data_dir: only ~/ is supported");
	bad("{'data_dir':'/a\\nb'}", "data_dir: control characters are not "
	    "allowed");
	bad("{'data_dir':'/a\\u0000b'}", "line 1, column 23: \\u0000 is not "
	    "allowed");
	bad("{'socket':'rel.sock'}", "socket: expected an absolute path");
	bad("{'socket':'/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/s'}",
	    "socket: path longer than 107 bytes");
	bad("{'poll_interval':0}", "poll_interval: expected an integer "
	    "1\xe2\x80\x93" "604800");
	bad("{'poll_interval':'60'}", "poll_interval: expected an integer");
	bad("{'poll_interval':1.5}", "poll_interval: expected an integer");
	bad("{'attachment_max_bytes':-1}", "attachment_max_bytes: expected an "
	    "integer 1");
	bad("{'poll_at_start':1}", "poll_at_start: expected true or false");
	bad("{'desktop_notifications':'yes'}", "desktop_notifications: "
	    "expected true or false");
	bad("{'accounts':{}}", "accounts: expected an array");
	bad("{'filters':{}}", "filters: expected an array");
	bad("{'hooks':[]}", "hooks: expected an object");
	bad("{'queue':1}", "queue: expected an object");
}

static void
test_accounts(void)
{
	bad_account("5", "accounts[0]: expected an object");
	bad_account(ACCT("'nmae':'x'," POP3_OK), "accounts[0].nmae: unknown "
	    "key");
	bad_account("{'email':'a@b.test'," POP3_OK "}", "accounts[0].name: "
	    "missing (required)");
	bad_account("{'name':'a/b','email':'a@b.test'," POP3_OK "}",
	    "accounts[0].name: expected a short name");
	bad_account("{'name':'.a','email':'a@b.test'," POP3_OK "}",
	    "accounts[0].name: expected a short name");
	bad_account("{'name':'a b','email':'a@b.test'," POP3_OK "}",
	    "accounts[0].name: expected a short name");
	bad_account(ACCT(POP3_OK) "," ACCT(POP3_OK),
	    "accounts[1].name: duplicate account name 'a'");
	bad_account("{'name':'a'," POP3_OK "}", "accounts[0].email: missing");
	bad_account("{'name':'a','email':'alice'," POP3_OK "}",
	    "accounts[0].email: expected an address");
	bad_account("{'name':'a','email':'a@b@c'," POP3_OK "}",
	    "accounts[0].email: expected an address");
	bad_account("{'name':'a','email':'a <x>@b'," POP3_OK "}",
	    "accounts[0].email: expected an address");
	bad_account(ACCT("'display_name':'Eve\\r\\nBcc: x'," POP3_OK),
	    "accounts[0].display_name: control characters");
	bad_account(ACCT("'pop3':5"), "accounts[0].pop3: expected an object");
	bad_account(ACCT("'smtp':[]"), "accounts[0].smtp: expected an object");
	bad_account("{'name':'a','email':'a@b.test'}", "accounts[0]: expected "
	    "a 'pop3' or 'imap' server, an 'smtp' server, or both");
	bad_account(ACCT("'aliases':'b@b.test'," POP3_OK), "accounts[0].aliases: "
	    "expected an array of strings");
	bad_account(ACCT("'aliases':['b@b.test','bob']," POP3_OK),
	    "accounts[0].aliases[1]: expected an address");
	bad_account(ACCT("'default':1," POP3_OK), "accounts[0].default: "
	    "expected true or false");
	bad_account(ACCT("'save_sent':'no'," POP3_OK), "accounts[0].save_sent: "
	    "expected true or false");
	bad_account("{'name':'a','email':'a@b.test','default':true," POP3_OK
	    "},{'name':'b','email':'b@b.test','default':true," POP3_OK "}",
	    "accounts[1].default: only one account can be the default (a is "
	    "already)");
}

#define IMAP(x) ACCT("'imap':{'host':'h','user':'u','password':'p'," x "}")

/* The imap block: defaults, each key's errors, pop3 and imap together. */
static void
test_imap(void)
{
	struct config	*cf;
	const struct config_server *s;
	char		*local;

	cf = good("{'accounts':[" ACCT("'imap':{'host':'h','user':'u',"
	    "'password':'p'}") "," "{'name':'b','email':'b@b.test','imap':{"
	    "'host':'h','tls':'starttls','user':'u','password':'p',"
	    "'folders':['INBOX','Lists/dev','Archive'],'idle':false,"
	    "'keep':false,'sync_seen':false,'delete_on_server':true,"
	    "'poll_interval':60}}]}");
	if (cf != NULL) {
		s = cf->accounts[0].imap;
		ok(s != NULL && cf->accounts[0].pop3 == NULL, "imap parsed");
		ok(s->port == 993 && s->tls == CONFIG_TLS_IMPLICIT,
		    "imap defaults to implicit TLS on 993");
		ok(s->folders != NULL && strcmp(s->folders[0], "INBOX") == 0 &&
		    s->folders[1] == NULL, "folders defaults to [INBOX]");
		ok(s->idle && s->keep && s->sync_seen && !s->delete_on_server &&
		    s->idle_renew == 300,
		    "idle, keep, sync_seen default true, delete_on_server false");
		s = cf->accounts[1].imap;
		ok(s->port == 143 && s->tls == CONFIG_TLS_STARTTLS,
		    "starttls defaults to 143");
		ok(strcmp(s->folders[1], "Lists/dev") == 0 && s->folders[3] ==
		    NULL && !s->idle && !s->keep && !s->sync_seen &&
		    s->delete_on_server && s->poll_interval == 60,
		    "every imap key read");
	}
	config_free(cf);
	bad_account(ACCT(POP3_OK ",'imap':{'host':'h','user':'u',"
	    "'password':'p'}"), "accounts[0].imap: an account fetches with "
	    "pop3 or with imap, not both");
	bad_account(IMAP("'quick_check':true"),
	    "accounts[0].imap.quick_check: unknown key");
	bad_account(IMAP("'auth':'apop'"), "accounts[0].imap.auth: expected "
	    "'auto', 'login', 'plain' or 'xoauth2'");
	bad_account(IMAP("'folders':[]"), "accounts[0].imap.folders: expected "
	    "a non-empty array");
	bad_account(IMAP("'folders':['INBOX','.hidden']"),
	    "accounts[0].imap.folders[1]: a folder name");
	bad_account(IMAP("'folders':['Work','Work']"),
	    "accounts[0].imap.folders[1]: 'Work' is listed twice");
	bad_account(IMAP("'folders':['Lists/dev','INBOX','Lists.dev']"),
	    "accounts[0].imap.folders[2]: 'Lists/dev' and 'Lists.dev' would "
	    "be one local folder");
	bad_account(IMAP("'folders':['INBOX','Inbox']"),
	    "accounts[0].imap.folders[1]: 'INBOX' and 'Inbox' would be one "
	    "local folder");
	bad_account(IMAP("'idle':1"), "accounts[0].imap.idle: expected");
	bad_account(IMAP("'idle_renew':1800"), "accounts[0].imap.idle_renew: "
	    "expected an integer 2");
	bad_account(ACCT("'imap':{'host':'h','user':'u'}"),
	    "accounts[0].imap: password or password_command is required");
	ok((local = config_imap_local("Lists/dev/2024")) != NULL &&
	    strcmp(local, "Lists.dev.2024") == 0, "a server folder's local "
	    "name turns / into .");
	free(local);
	ok(config_imap_local("a\\b") == NULL, "a backslash has no local "
	    "name");
}

static void
test_servers(void)
{
	bad_account(POP3("'prot':1"), "accounts[0].pop3.prot: unknown key");
	bad_account(ACCT("'pop3':{'user':'u','password':'p'}"),
	    "accounts[0].pop3.host: missing (required)");
	bad_account(ACCT("'pop3':{'host':'bad host','user':'u',"
	    "'password':'p'}"), "accounts[0].pop3.host: expected a host name");
	bad_account(POP3("'tls':'ssl'"), "accounts[0].pop3.tls: expected "
	    "'implicit', 'starttls' or 'none'");
	bad_account(POP3("'port':0"), "accounts[0].pop3.port: expected an "
	    "integer 1\xe2\x80\x93" "65535");
	bad_account(POP3("'port':70000"), "accounts[0].pop3.port: expected an "
	    "integer 1\xe2\x80\x93" "65535");
	bad_account(POP3("'port':'995'"), "accounts[0].pop3.port: expected");
	bad_account(ACCT("'pop3':{'host':'h','user':5,'password':'p'}"),
	    "accounts[0].pop3.user: expected a non-empty string");
	bad_account(POP3("'password_command':['pass']"),
	    "accounts[0].pop3.password: give either password or "
	    "password_command, not both");
	bad_account(ACCT("'pop3':{'host':'h','user':'u','password':5}"),
	    "accounts[0].pop3.password: expected a string");
	bad_account(ACCT("'pop3':{'host':'h','user':'u',"
	    "'password_command':[]}"), "accounts[0].pop3.password_command: "
	    "expected a non-empty array of strings");
	bad_account(ACCT("'pop3':{'host':'h','user':'u',"
	    "'password_command':'pass'}"), "accounts[0].pop3.password_command: "
	    "expected a non-empty array");
	bad_account(ACCT("'pop3':{'host':'h','user':'u',"
	    "'password_command':['pass','']}"),
	    "accounts[0].pop3.password_command[1]: expected a non-empty string");
	bad_account(POP3("'auth':'cram-md5'"), "accounts[0].pop3.auth: "
	    "expected 'auto', 'user', 'plain' or 'apop'");
	bad_account(SMTP("'auth':'gssapi'"), "accounts[0].smtp.auth: expected "
	    "'auto', 'plain', 'login', 'xoauth2' or 'none'");
	bad_account(ACCT("'pop3':{'host':'h','user':'u'}"),
	    "accounts[0].pop3: password or password_command is required");
	bad_account(SMTP("'user':'u','auth':'plain'"),
	    "accounts[0].smtp: password or password_command is required");
	bad_account(ACCT("'pop3':{'host':'h','password':'p'}"),
	    "accounts[0].pop3.user: missing (required with a password)");
	bad_account(POP3("'ca_file':'/nonexistent/ca.pem'"),
	    "accounts[0].pop3.ca_file: cannot read '/nonexistent/ca.pem': No "
	    "such file");
	bad_account(SMTP("'ca_file':'~nobody/ca.pem'"),
	    "accounts[0].smtp.ca_file: only ~/ is supported");
	bad_account(POP3("'timeout':0"), "accounts[0].pop3.timeout: expected "
	    "an integer 1\xe2\x80\x93" "3600");
	bad_account(POP3("'poll_interval':0"), "accounts[0].pop3.poll_interval: "
	    "expected an integer 1");
	bad_account(POP3("'keep':'no'"), "accounts[0].pop3.keep: expected true "
	    "or false");
	bad_account(SMTP("'keep':true"), "accounts[0].smtp.keep: unknown key");
	bad_account(POP3("'connections':3"), "accounts[0].pop3.connections: "
	    "expected an integer 1\xe2\x80\x93" "2");
	bad_account(SMTP("'connections':1"),
	    "accounts[0].smtp.connections: unknown key");
	bad_account(POP3("'quick_check':1"), "accounts[0].pop3.quick_check: "
	    "expected true or false");
	bad_account(SMTP("'quick_check':true"),
	    "accounts[0].smtp.quick_check: unknown key");
	bad_account(ACCT(POP3_OK ",'smtp':{'host':'h','port':-1}"),
	    "accounts[0].smtp.port: expected an integer");
}

static void
test_filters_hooks_queue(void)
{
	bad("{'filters':[1]}", "filters[0]: expected an object");
	bad("{'filters':[{'folder':'W','subject':['x']},{'folder':'X',"
	    "'to':['a']}]}", "filters[1].to: unknown key");
	bad("{'filters':[{'subject':['x']}]}", "filters[0].folder: missing");
	bad("{'filters':[{'folder':'../x','subject':['x']}]}",
	    "filters[0].folder: expected a folder name");
	bad("{'filters':[{'folder':'a/b','subject':['x']}]}",
	    "filters[0].folder: expected a folder name");
	bad("{'filters':[{'folder':'.hidden','subject':['x']}]}",
	    "filters[0].folder: expected a folder name");
	bad("{'filters':[{'folder':'sent','subject':['x']}]}",
	    "filters[0].folder: 'Sent' is reserved");
	bad("{'filters':[{'folder':'W','from':[]}]}", "filters[0].from: "
	    "expected a non-empty array of strings");
	bad("{'filters':[{'folder':'W','subject':['a','']}]}",
	    "filters[0].subject[1]: expected a non-empty string");
	bad("{'filters':[{'folder':'W','body':[3]}]}",
	    "filters[0].body[0]: expected a non-empty string");
	bad("{'filters':[{'folder':'W'}]}", "filters[0]: expected at least one "
	    "of 'from', 'subject' or 'body'");
	bad("{'filters':[{'folder':'W','body':['x'],'notify':1}]}",
	    "filters[0].notify: expected true or false");
	bad("{'hooks':{'on_mail':['x']}}", "hooks.on_mail: unknown key");
	bad("{'hooks':{'new_mail':[]}}", "hooks.new_mail: expected a non-empty "
	    "array of strings");
	bad("{'hooks':{'sent':['a',1]}}", "hooks.sent[1]: expected a non-empty "
	    "string");
	bad("{'hooks':{'send_failed':'x'}}", "hooks.send_failed: expected");
	bad("{'hooks':{'timeout':0}}", "hooks.timeout: expected an integer");
	bad("{'queue':{'retry':1}}", "queue.retry: unknown key");
	bad("{'queue':{'retry_min':0}}", "queue.retry_min: expected an "
	    "integer");
	bad("{'queue':{'retry_min':600,'retry_max':60}}", "queue.retry_max: "
	    "must not be less than retry_min");
	bad("{'queue':{'expire':-5}}", "queue.expire: expected an integer");
}

static void
test_valid(void)
{
	struct config	*cf;
	json_t		*d;
	char		*s;

	cf = good("{'data_dir':'/d','socket':'/s/x.sock','accounts':[{'name':"
	    "'p','email':'p@x.test','pop3':{'host':'pop.x.test','user':'u',"
	    "'password':'hunter2'},'smtp':{'host':'smtp.x.test','tls':"
	    "'implicit','user':'u','password_command':['getsecret-zz','x']}},"
	    "{'name':'q','email':'q@x.test','pop3':{'host':'127.0.0.1',"
	    "'tls':'none','user':'q','password':'s3cr3t','keep':false,"
	    "'poll_interval':30,'connections':1,'quick_check':false},"
	    "'aliases':['q2@x.test','list@x.test'],'default':true,"
	    "'save_sent':false}]}");
	if (cf == NULL)
		return;
	ok(cf->naccounts == 2, "two accounts");
	ok(cf->accounts[0].save_sent == 1 && cf->accounts[1].save_sent == 0,
	    "save_sent defaults to true");
	ok(cf->accounts[0].is_default == 0 && cf->accounts[1].is_default == 1,
	    "default");
	ok(cf->accounts[0].aliases == NULL && cf->accounts[1].aliases != NULL &&
	    strcmp(cf->accounts[1].aliases[1], "list@x.test") == 0 &&
	    cf->accounts[1].aliases[2] == NULL, "aliases");
	ok(cf->accounts[0].pop3->port == 995 &&
	    cf->accounts[0].pop3->tls == CONFIG_TLS_IMPLICIT,
	    "pop3 defaults to implicit TLS on 995");
	ok(cf->accounts[0].smtp->port == 465, "smtps defaults to 465");
	ok(cf->accounts[1].pop3->port == 110, "plain pop3 defaults to 110");
	ok(cf->accounts[0].pop3->poll_interval == 300 &&
	    cf->accounts[1].pop3->poll_interval == 30,
	    "poll interval: account over global");
	ok(cf->accounts[0].pop3->keep == 1 && cf->accounts[1].pop3->keep == 0,
	    "keep defaults to true");
	ok(cf->accounts[0].pop3->connections == 2 &&
	    cf->accounts[1].pop3->connections == 1,
	    "connections: 2 unless the account says 1");
	ok(cf->accounts[0].pop3->quick_check == 1 &&
	    cf->accounts[1].pop3->quick_check == 0,
	    "quick_check defaults to true");
	ok(cf->accounts[0].pop3->timeout == CONFIG_DEFAULT_TIMEOUT,
	    "timeout default");
	ok(cf->attachment_max_bytes == 3145728, "attachment limit default");
	ok(cf->nfilters == 4 && strcmp(cf->filters[0].folder, "Spam") == 0 &&
	    !cf->filters[0].notify && strcmp(cf->filters[3].folder, "Work") == 0
	    && cf->filters[3].notify, "default filters: Spam first, quiet");
	ok(config_find_account(cf, "q") == &cf->accounts[1] &&
	    config_find_account(cf, "z") == NULL, "find account");
	d = config_describe(cf);
	s = json_dumps(d, 0);
	ok(strstr(s, "hunter2") == NULL && strstr(s, "s3cr3t") == NULL &&
	    strstr(s, "getsecret") == NULL, "describe shows no secret");
	ok(strstr(s, "\"secret\": \"password_command\"") != NULL ||
	    strstr(s, "\"secret\":\"password_command\"") != NULL,
	    "describe says where the secret comes from");
	free(s);
	json_decref(d);
	config_free(cf);

	cf = good("{'//':'comment','data_dir':'/d','accounts':[{'name':'s',"
	    "'//why':'x','email':'s@x.test','smtp':{'host':'h'}}],"
	    "'filters':[{'folder':'Lists','from':['list@'],'notify':false}]}");
	ok(cf != NULL && cf->accounts[0].smtp->port == 587 &&
	    cf->accounts[0].smtp->tls == CONFIG_TLS_STARTTLS,
	    "smtp defaults to STARTTLS on 587; comment keys ignored");
	ok(cf != NULL && cf->nfilters == 1, "filters replace the defaults");
	config_free(cf);
}

/* Every error of a document is told, one per line, in order. */
static void
test_every_error(void)
{
	struct config	*cf;
	char		*t, *cause = NULL, many[8192];
	size_t		 i, n = 0, lines = 0;

	t = q("{'poll_interval':0,'accounts':[{'name':'a','email':'nope',"
	    POP3_OK "},{'name':'b','email':'b@b.test','pop3':{'host':'h',"
	    "'user':'u','password':'p','port':0}}],'filters':[{'folder':"
	    "'Sent'}],'hooks':5}");
	cf = config_parse(t, strlen(t), "t.json", &cause);
	ok(cf == NULL && cause != NULL &&
	    strncmp(cause, "poll_interval:", 14) == 0 &&
	    strstr(cause, "\naccounts[0].email: ") != NULL &&
	    strstr(cause, "\naccounts[1].pop3.port: ") != NULL &&
	    strstr(cause, "\nfilters[0].folder: ") != NULL &&
	    strstr(cause, "\nhooks: ") != NULL,
	    "five errors in five parts are all told, in order: %s",
	    cause ? cause : "(none)");
	free(cause);
	free(t);

	n = snprintf(many, sizeof many, "{\"filters\":[");
	for (i = 0; i < 30; i++)
		n += snprintf(many + n, sizeof many - n, "%s{\"folder\":5}",
		    i ? "," : "");
	snprintf(many + n, sizeof many - n, "]}");
	cause = NULL;
	cf = config_parse(many, strlen(many), "t.json", &cause);
	for (i = 0; cause != NULL && cause[i] != '\0'; i++)
		lines += cause[i] == '\n';
	ok(cf == NULL && cause != NULL && lines == 20 &&
	    strstr(cause, "... and 10 more errors") != NULL,
	    "30 errors: 20 listed, then how many more (%zu lines)", lines + 1);
	free(cause);
}

static void
test_load(void)
{
	struct config	*cf;
	char		*cause = NULL, path[256];
	const char	*srcdir = getenv("top_srcdir");

	cf = config_load("/nonexistent/mailctl.json", 1, &cause);
	ok(cf == NULL && strstr(cause, "/nonexistent/mailctl.json: No such "
	    "file") != NULL, "an explicit missing file is an error");
	free(cause);
	cause = NULL;
	cf = config_load("/nonexistent/mailctl.json", 0, &cause);
	ok(cf != NULL && cf->path == NULL && cf->naccounts == 0,
	    "a missing default file means defaults");
	config_free(cf);

	snprintf(path, sizeof path, "%s/etc/mailctl.example.json",
	    srcdir ? srcdir : ".");
	cf = config_load(path, 1, &cause);
	if (!ok(cf != NULL && cf->naccounts == 1, "the example config is valid"))
		printf("# %s\n", cause);
	ok(cf != NULL && cf->desktop_notifications &&
	    cf->hook_new_mail == NULL, "the example announces new mail once: "
	    "desktop notifications on, no new_mail hook");
	config_free(cf);
	free(cause);
}

int
main(void)
{
	setenv("HOME", "/home/test", 1);
	unsetenv("XDG_DATA_HOME");
	test_top_level();
	test_every_error();
	test_accounts();
	test_servers();
	test_imap();
	test_filters_hooks_queue();
	test_valid();
	test_load();
	return tap_done();
}
