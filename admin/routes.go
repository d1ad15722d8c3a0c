package admin

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/latch-idp/latch/storage"
)

// route is one operation of the admin API: the table below mounts the
// handlers and renders the OpenAPI document, so the two cannot disagree.
type route struct {
	method, path, summary string
	handle                func(*call)
	query                 []string // query parameters, documented as strings
	body                  string   // schema of the request body; "" for none
	status                int      // of a success
	result                string   // schema of a success's body; "" for none
	errors                []int    // besides 401 and 403, which every route may answer
}

func (h *Handler) routes() []route {
	list := []string{"limit", "cursor"}
	item := []int{http.StatusNotFound}
	update := []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusPreconditionRequired}
	action := func(path, summary string, act func(*call, storage.User) (storage.User, error)) route {
		return route{http.MethodPost, "/users/{id}/" + path, summary, h.userAction(act), nil, "", http.StatusOK, "User", item}
	}
	return []route{
		{http.MethodGet, "/clients", "List clients", h.listClients, list, "", http.StatusOK, "ClientList", []int{http.StatusBadRequest}},
		{http.MethodPost, "/clients", "Register a client (RFC 7591 metadata); a secret is shown once", h.createClient, nil, "ClientMetadata", http.StatusCreated, "Client", []int{http.StatusBadRequest, http.StatusConflict}},
		{http.MethodGet, "/clients/{id}", "Get a client", h.getClient, nil, "", http.StatusOK, "Client", item},
		{http.MethodPut, "/clients/{id}", "Replace a client's metadata (If-Match)", h.updateClient, nil, "ClientMetadata", http.StatusOK, "Client", update},
		{http.MethodDelete, "/clients/{id}", "Delete a client, its consents and tokens", h.deleteClient, nil, "", http.StatusNoContent, "", item},
		{http.MethodPost, "/clients/{id}/rotate-secret", "Give a client a new secret, shown once", h.rotateClientSecret, nil, "", http.StatusOK, "Client", []int{http.StatusBadRequest, http.StatusNotFound}},

		{http.MethodGet, "/resources", "List API resources", h.listResources, list, "", http.StatusOK, "ResourceList", []int{http.StatusBadRequest}},
		{http.MethodPost, "/resources", "Register an API resource", h.createResource, nil, "Resource", http.StatusCreated, "Resource", []int{http.StatusBadRequest, http.StatusConflict}},
		{http.MethodGet, "/resources/{id}", "Get an API resource (the identifier percent-encoded)", h.getResource, nil, "", http.StatusOK, "Resource", item},
		{http.MethodPut, "/resources/{id}", "Replace an API resource (If-Match)", h.updateResource, nil, "Resource", http.StatusOK, "Resource", update},
		{http.MethodDelete, "/resources/{id}", "Delete an API resource", h.deleteResource, nil, "", http.StatusNoContent, "", item},

		{http.MethodGet, "/users", "List users; q searches address and name", h.listUsers, []string{"q", "limit", "cursor"}, "", http.StatusOK, "UserList", []int{http.StatusBadRequest}},
		{http.MethodPost, "/users", "Create a user (address counted as verified)", h.createUser, nil, "NewUser", http.StatusCreated, "User", []int{http.StatusBadRequest, http.StatusConflict}},
		{http.MethodGet, "/users/{id}", "Get a user, with their apps and backup codes", h.getUser, nil, "", http.StatusOK, "UserDetail", item},
		{http.MethodPatch, "/users/{id}", "Change a user's name or role, or make them choose a new password (If-Match)", h.updateUser, nil, "UserPatch", http.StatusOK, "User", update},
		action("disable", "Disable a user and end everything they hold", h.disableUser),
		action("enable", "Enable a user", h.enableUser),
		action("reset-mfa", "Turn off a user's second factor", h.resetMFA),
		action("revoke", "End every session and token of a user", h.revokeUser),
		action("send-password-reset", "Email a user a password reset link", h.sendPasswordReset),

		{http.MethodGet, "/keys", "List signing keys", h.listKeys, nil, "", http.StatusOK, "KeyList", nil},
		{http.MethodPost, "/keys/rotate", "Make new signing keys now", h.rotateKeys, nil, "", http.StatusOK, "KeyList", nil},

		{http.MethodGet, "/audit", "Read the audit log, newest first", h.listAudit, []string{"type", "user", "client", "since", "until", "limit", "cursor"}, "", http.StatusOK, "AuditList", []int{http.StatusBadRequest}},

		{http.MethodGet, "/registration-tokens", "List initial access tokens for client registration", h.listTokens, list, "", http.StatusOK, "TokenList", []int{http.StatusBadRequest}},
		{http.MethodPost, "/registration-tokens", "Make an initial access token, shown once", h.createToken, nil, "NewToken", http.StatusCreated, "Token", []int{http.StatusBadRequest}},
		{http.MethodDelete, "/registration-tokens/{id}", "Delete an initial access token", h.deleteToken, nil, "", http.StatusNoContent, "", item},
	}
}

// openAPI renders the OpenAPI 3.1 document of the routes.
func (h *Handler) openAPI() map[string]any {
	paths := map[string]any{}
	for _, rt := range h.routes() {
		op := map[string]any{"summary": rt.summary, "operationId": operationID(rt), "responses": responses(rt)}
		var params []any
		if strings.Contains(rt.path, "{id}") {
			params = append(params, map[string]any{"name": "id", "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.query {
			params = append(params, map[string]any{"name": q, "in": "query", "schema": map[string]any{"type": "string"}})
		}
		if rt.method == http.MethodPut || rt.method == http.MethodPatch {
			params = append(params, map[string]any{"name": "If-Match", "in": "header", "required": true, "schema": map[string]any{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.body != "" {
			op["requestBody"] = map[string]any{"required": true, "content": jsonContent(rt.body)}
		}
		p, _ := paths[Path+rt.path].(map[string]any)
		if p == nil {
			p = map[string]any{}
			paths[Path+rt.path] = p
		}
		p[strings.ToLower(rt.method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "latch admin API", "version": "1",
			"description": "Bearer tokens for the admin API: a user's who is an administrator, or a client's granted latch:admin. Updates need If-Match."},
		"servers":  []any{map[string]any{"url": h.c.Issuer}},
		"security": []any{map[string]any{"bearer": []any{}}},
		"paths":    paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
			"schemas":         schemas(),
		},
	}
}

func operationID(rt route) string {
	return strings.ToLower(rt.method) + strings.NewReplacer("/", "_", "{", "", "}", "", "-", "_").Replace(rt.path)
}

func jsonContent(schema string) map[string]any {
	return map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/" + schema}}}
}

func responses(rt route) map[string]any {
	ok := map[string]any{"description": http.StatusText(rt.status)}
	if rt.result != "" {
		ok["content"] = jsonContent(rt.result)
	}
	out := map[string]any{strconv.Itoa(rt.status): ok}
	errs := append([]int{http.StatusUnauthorized, http.StatusForbidden, http.StatusServiceUnavailable}, rt.errors...)
	if rt.body != "" {
		// Every body may be malformed, too large, or not JSON.
		errs = append(errs, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType)
	}
	for _, s := range errs {
		out[strconv.Itoa(s)] = map[string]any{"description": http.StatusText(s), "content": jsonContent("Error")}
	}
	return out
}
