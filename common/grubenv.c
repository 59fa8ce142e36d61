/*
 * grubenv.c - GRUB 2's 1024-byte environment block: parse, edit, format
 * (see grubenv.h).
 */
#include <stdbool.h>
#include <string.h>

#include "grubenv.h"

static bool
name_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > GRUBENV_NAME_MAX_BYTES)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

static bool
value_valid(const char *s, size_t n)
{
	size_t i;

	if (n > GRUBENV_VALUE_MAX_BYTES)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '\\')
			return false;
	return true;
}

enum bd_err
grubenv_parse(const uint8_t *buf, size_t len, struct grubenv *env)
{
	const char *p = (const char *)buf, *end, *eol, *eq;
	size_t hl = strlen(GRUBENV_HEADER);
	struct grubenv_var *v;

	memset(env, 0, sizeof(*env));
	if (len != GRUBENV_BYTES)
		return bd_fail(BD_ERR_FORMAT, "grubenv: %zu bytes, not %d", len,
		    GRUBENV_BYTES);
	if (memcmp(p, GRUBENV_HEADER, hl) != 0)
		return bd_fail(BD_ERR_FORMAT, "grubenv: no GRUB environment "
		    "block header");
	end = p + len;
	p += hl;
	while (p < end && *p != '#') {
		eol = memchr(p, '\n', (size_t)(end - p));
		eq = eol != NULL ? memchr(p, '=', (size_t)(eol - p)) : NULL;
		if (eq == NULL)
			return bd_fail(BD_ERR_FORMAT, "grubenv: a line that is "
			    "not name=value");
		if (!name_valid(p, (size_t)(eq - p)) ||
		    !value_valid(eq + 1, (size_t)(eol - eq - 1)))
			return bd_fail(BD_ERR_FORMAT, "grubenv: a name or value "
			    "bootdrop does not read");
		if (env->nvars == GRUBENV_MAX_VARS)
			return bd_fail(BD_ERR_TOOBIG, "grubenv: more than %d "
			    "variables", GRUBENV_MAX_VARS);
		v = &env->vars[env->nvars];
		memcpy(v->name, p, (size_t)(eq - p));
		memcpy(v->value, eq + 1, (size_t)(eol - eq - 1));
		if (grubenv_get(env, v->name) != NULL)
			return bd_fail(BD_ERR_FORMAT, "grubenv: %s set twice",
			    v->name);
		env->nvars++;
		p = eol + 1;
	}
	for (; p < end; p++)
		if (*p != '#')
			return bd_fail(BD_ERR_FORMAT, "grubenv: padding that is "
			    "not '#'");
	return BD_OK;
}

enum bd_err
grubenv_format(const struct grubenv *env, uint8_t out[GRUBENV_BYTES])
{
	size_t i, n, nl, vl, at = strlen(GRUBENV_HEADER);
	const struct grubenv_var *v;

	memset(out, '#', GRUBENV_BYTES);
	memcpy(out, GRUBENV_HEADER, at);
	if (env->nvars > GRUBENV_MAX_VARS)
		return bd_fail(BD_ERR_TOOBIG, "grubenv: more than %d variables",
		    GRUBENV_MAX_VARS);
	for (i = 0; i < env->nvars; i++) {
		v = &env->vars[i];
		nl = strnlen(v->name, sizeof(v->name));
		vl = strnlen(v->value, sizeof(v->value));
		if (!name_valid(v->name, nl) || nl == sizeof(v->name) ||
		    !value_valid(v->value, vl) || vl == sizeof(v->value))
			return bd_fail(BD_ERR_FORMAT, "grubenv: variable %zu "
			    "cannot be written", i);
		n = nl + 1 + vl + 1;
		if (n > GRUBENV_BYTES - at)
			return bd_fail(BD_ERR_TOOBIG, "grubenv: the variables "
			    "need more than %d bytes", GRUBENV_BYTES);
		memcpy(out + at, v->name, nl);
		out[at + nl] = '=';
		memcpy(out + at + nl + 1, v->value, vl);
		out[at + n - 1] = '\n';
		at += n;
	}
	return BD_OK;
}

/* The index of name in env, or env->nvars. */
static size_t
var_find(const struct grubenv *env, const char *name)
{
	size_t i;

	for (i = 0; i < env->nvars; i++)
		if (strcmp(env->vars[i].name, name) == 0)
			break;
	return i;
}

const char *
grubenv_get(const struct grubenv *env, const char *name)
{
	size_t i = var_find(env, name);

	return i < env->nvars ? env->vars[i].value : NULL;
}

enum bd_err
grubenv_set(struct grubenv *env, const char *name, const char *value)
{
	size_t i = var_find(env, name);

	if (!name_valid(name, strlen(name)) ||
	    !value_valid(value, strlen(value)))
		return bd_fail(BD_ERR_FORMAT, "grubenv: cannot hold %s", name);
	if (i == env->nvars) {
		if (env->nvars == GRUBENV_MAX_VARS)
			return bd_fail(BD_ERR_TOOBIG, "grubenv: more than %d "
			    "variables", GRUBENV_MAX_VARS);
		env->nvars++;
		memcpy(env->vars[i].name, name, strlen(name) + 1);
	}
	memset(env->vars[i].value, 0, sizeof(env->vars[i].value));
	memcpy(env->vars[i].value, value, strlen(value));
	return BD_OK;
}

void
grubenv_unset(struct grubenv *env, const char *name)
{
	size_t i = var_find(env, name);

	if (i == env->nvars)
		return;
	memmove(&env->vars[i], &env->vars[i + 1],
	    (env->nvars - i - 1) * sizeof(env->vars[0]));
	env->nvars--;
	memset(&env->vars[env->nvars], 0, sizeof(env->vars[0]));
}
