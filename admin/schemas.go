package admin

import "github.com/latch-idp/latch/keys"

// The JSON schemas of the OpenAPI document. The tests check every answer
// the API gives against them (required properties and their types).

func obj(required []string, props map[string]any) map[string]any {
	return map[string]any{"type": "object", "required": required, "properties": props}
}

func typ(t string) map[string]any { return map[string]any{"type": t} }

func arrayOf(items map[string]any) map[string]any {
	return map[string]any{"type": "array", "items": items}
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

func listOf(item string) map[string]any {
	return obj([]string{"items"}, map[string]any{"items": arrayOf(ref(item)), "next_cursor": typ("string")})
}

func schemas() map[string]any {
	str, strs, num, boolean := typ("string"), arrayOf(typ("string")), typ("integer"), typ("boolean")
	clientProps := map[string]any{
		"client_id": str, "client_name": str, "redirect_uris": strs, "grant_types": strs, "response_types": strs,
		"scope": str, "token_endpoint_auth_method": str, "post_logout_redirect_uris": strs, "first_party": boolean,
		"jwks": typ("object"), "jwks_uri": str, "token_endpoint_auth_signing_alg": str, "minimum_acr_value": str,
		"backchannel_logout_uri": str, "backchannel_logout_session_required": boolean, "dpop_bound_access_tokens": boolean,
		"id_token_signed_response_alg": map[string]any{"type": "string", "enum": keys.Algorithms()},
	}
	client := map[string]any{}
	for k, v := range clientProps {
		client[k] = v
	}
	client["client_id_issued_at"], client["client_secret"], client["client_secret_expires_at"] = num, str, num
	userProps := map[string]any{
		"id": str, "email": str, "name": str, "role": str, "disabled": boolean, "email_verified": boolean,
		"password_must_change": boolean, "totp": boolean, "created_at": num, "last_login_at": num,
	}
	userRequired := []string{"id", "email", "name", "role", "disabled", "email_verified", "password_must_change", "totp", "created_at"}
	detail := map[string]any{"apps": strs, "backup_codes": num, "passkeys": arrayOf(obj([]string{"id", "name", "synced", "created_at"},
		map[string]any{"id": str, "name": str, "synced": boolean, "created_at": num, "last_used_at": num})), "sessions": arrayOf(obj([]string{"id", "created_at", "last_seen", "ip", "user_agent"},
		map[string]any{"id": str, "created_at": num, "last_seen": num, "ip": str, "user_agent": str}))}
	for k, v := range userProps {
		detail[k] = v
	}
	tokenProps := map[string]any{"id": str, "token": str, "max_uses": num, "uses": num, "created_at": num, "expires_at": num}
	return map[string]any{
		"Error":          obj([]string{"error", "error_description"}, map[string]any{"error": str, "error_description": str}),
		"ClientMetadata": obj(nil, clientProps),
		"Client":         obj([]string{"client_id", "redirect_uris", "grant_types", "response_types", "scope", "token_endpoint_auth_method", "first_party", "client_id_issued_at"}, client),
		"ClientList":     listOf("Client"),
		"Resource": obj([]string{"resource", "scopes"}, map[string]any{
			"resource": str, "name": str, "scopes": strs, "access_token_ttl": str, "introspection_clients": strs, "created_at": num, "updated_at": num,
		}),
		"ResourceList": listOf("Resource"),
		"NewUser": obj([]string{"email", "password"}, map[string]any{
			"email": str, "name": str, "role": str, "password": str, "password_must_change": boolean,
		}),
		"UserPatch":  obj(nil, map[string]any{"name": str, "role": str, "password_must_change": boolean}),
		"User":       obj(userRequired, userProps),
		"UserDetail": obj(append(userRequired, "apps", "backup_codes", "passkeys", "sessions"), detail),
		"UserList":   listOf("User"),
		"Key": obj([]string{"kid", "alg", "state", "created_at", "active_at"}, map[string]any{
			"kid": str, "alg": str, "state": str, "created_at": str, "active_at": str, "retired_at": str,
		}),
		"KeyList": listOf("Key"),
		"AuditEvent": obj([]string{"id", "at", "type"}, map[string]any{
			"id": num, "at": str, "type": str, "user_id": str, "client_id": str, "ip": str, "user_agent": str, "detail": typ("object"),
		}),
		"AuditList": listOf("AuditEvent"),
		"NewToken":  obj(nil, map[string]any{"expires_in": str, "max_uses": num}),
		"Token":     obj([]string{"id", "max_uses", "uses", "created_at", "expires_at"}, tokenProps),
		"TokenList": listOf("Token"),
	}
}
