package bridge

import (
	"context"

	"github.com/otelaudit/otelaudit"
)

// Resource types the typed calls record.
const (
	ResourceTypeOAuthProvider = "oauth_provider"
	ResourceTypeSubscription  = "subscription"
	ResourceTypeDataExport    = "data_export"
	ResourceTypeDataDeletion  = "data_deletion"
)

// Login records a successful login of actor.
func (a *Auditor) Login(ctx context.Context, actor otelaudit.Actor) {
	a.Record(ctx, otelaudit.Event{Action: otelaudit.ActionLogin, Actor: actor})
}

// LoginFailed records a refused login attempt for actor (whose UserID may be
// the name that was tried). errorType classifies the failure
// ("invalid_password", "unknown_user", "mfa_required").
func (a *Auditor) LoginFailed(ctx context.Context, actor otelaudit.Actor, errorType string) {
	a.Record(ctx, otelaudit.Event{Action: otelaudit.ActionLogin, Actor: actor, Outcome: otelaudit.Failure(errorType)})
}

// Logout records a logout of actor. It has no failure form: a logout that
// did not happen changed nothing worth recording.
func (a *Auditor) Logout(ctx context.Context, actor otelaudit.Actor) {
	a.Record(ctx, otelaudit.Event{Action: otelaudit.ActionLogout, Actor: actor})
}

// DataExportRequested records that actor asked for an export of their data
// (a GDPR access request, say). exportID identifies the export job; details
// is any Go value (format, scope...), nil for none.
func (a *Auditor) DataExportRequested(ctx context.Context, actor otelaudit.Actor, exportID string, details any) {
	a.dataExport(ctx, otelaudit.ActionDataExportRequested, actor, exportID, otelaudit.Success, details)
}

// DataExportRequestFailed records that actor's request for an export was
// refused, as data_export_requested with a failure outcome. exportID may be
// empty when no job was created.
func (a *Auditor) DataExportRequestFailed(ctx context.Context, actor otelaudit.Actor, exportID, errorType string, details any) {
	a.dataExport(ctx, otelaudit.ActionDataExportRequested, actor, exportID, otelaudit.Failure(errorType), details)
}

// DataExportCompleted records that the export exportID for actor finished.
func (a *Auditor) DataExportCompleted(ctx context.Context, actor otelaudit.Actor, exportID string, details any) {
	a.dataExport(ctx, otelaudit.ActionDataExportCompleted, actor, exportID, otelaudit.Success, details)
}

// DataExportFailed records that the export exportID for actor ended without
// producing the export, as data_export_completed with a failure outcome.
func (a *Auditor) DataExportFailed(ctx context.Context, actor otelaudit.Actor, exportID, errorType string, details any) {
	a.dataExport(ctx, otelaudit.ActionDataExportCompleted, actor, exportID, otelaudit.Failure(errorType), details)
}

func (a *Auditor) dataExport(ctx context.Context, action otelaudit.Action, actor otelaudit.Actor, id string, outcome otelaudit.Outcome, details any) {
	a.Record(ctx, otelaudit.Event{
		Action: action, Actor: actor, Outcome: outcome,
		Resource: otelaudit.Resource{Type: ResourceTypeDataExport, ID: id},
		Details:  otelaudit.Value(details),
	})
}

// DataDeleteRequested records that actor asked for their data to be deleted
// (the action data_delete_requested). deletionID identifies the deletion
// job.
func (a *Auditor) DataDeleteRequested(ctx context.Context, actor otelaudit.Actor, deletionID string, details any) {
	a.dataDelete(ctx, otelaudit.ActionDataDeleteRequested, actor, deletionID, otelaudit.Success, details)
}

// DataDeleteRequestFailed records that actor's request for a deletion was
// refused, as data_delete_requested with a failure outcome. deletionID may
// be empty when no job was created.
func (a *Auditor) DataDeleteRequestFailed(ctx context.Context, actor otelaudit.Actor, deletionID, errorType string, details any) {
	a.dataDelete(ctx, otelaudit.ActionDataDeleteRequested, actor, deletionID, otelaudit.Failure(errorType), details)
}

// DataDeleteCompleted records that the deletion deletionID finished (the
// action data_delete_completed).
func (a *Auditor) DataDeleteCompleted(ctx context.Context, actor otelaudit.Actor, deletionID string, details any) {
	a.dataDelete(ctx, otelaudit.ActionDataDeleteCompleted, actor, deletionID, otelaudit.Success, details)
}

// DataDeleteFailed records that the deletion deletionID ended without
// deleting everything it should have, as data_delete_completed with a
// failure outcome. Say what is left in details.
func (a *Auditor) DataDeleteFailed(ctx context.Context, actor otelaudit.Actor, deletionID, errorType string, details any) {
	a.dataDelete(ctx, otelaudit.ActionDataDeleteCompleted, actor, deletionID, otelaudit.Failure(errorType), details)
}

func (a *Auditor) dataDelete(ctx context.Context, action otelaudit.Action, actor otelaudit.Actor, id string, outcome otelaudit.Outcome, details any) {
	a.Record(ctx, otelaudit.Event{
		Action: action, Actor: actor, Outcome: outcome,
		Resource: otelaudit.Resource{Type: ResourceTypeDataDeletion, ID: id},
		Details:  otelaudit.Value(details),
	})
}

// SettingsChanged records that actor changed setting from previous to next,
// any Go values (nil: no value, as for a setting that had none).
func (a *Auditor) SettingsChanged(ctx context.Context, actor otelaudit.Actor, setting otelaudit.Resource, previous, next any) {
	a.Record(ctx, otelaudit.Event{
		Action: otelaudit.ActionSettingsChanged, Actor: actor, Resource: setting,
		Previous: otelaudit.Value(previous), New: otelaudit.Value(next),
	})
}

// SettingsChangeFailed records that actor tried to change setting from
// current to attempted and was refused (validation, permission), as
// settings_changed with a failure outcome: previous holds the value that
// stays, new the value that was refused.
func (a *Auditor) SettingsChangeFailed(ctx context.Context, actor otelaudit.Actor, setting otelaudit.Resource, errorType string, current, attempted any) {
	a.Record(ctx, otelaudit.Event{
		Action: otelaudit.ActionSettingsChanged, Actor: actor, Resource: setting,
		Outcome:  otelaudit.Failure(errorType),
		Previous: otelaudit.Value(current), New: otelaudit.Value(attempted),
	})
}

// OAuthConnected records that actor connected the OAuth provider
// ("github"). details holds what was granted (scopes, say), nil for none.
func (a *Auditor) OAuthConnected(ctx context.Context, actor otelaudit.Actor, provider string, details any) {
	a.oauth(ctx, otelaudit.ActionOAuthConnected, actor, provider, otelaudit.Success, details)
}

// OAuthConnectFailed records that connecting the OAuth provider failed (the
// user denied consent, the code exchange failed), as oauth_connected with a
// failure outcome.
func (a *Auditor) OAuthConnectFailed(ctx context.Context, actor otelaudit.Actor, provider, errorType string, details any) {
	a.oauth(ctx, otelaudit.ActionOAuthConnected, actor, provider, otelaudit.Failure(errorType), details)
}

// OAuthDisconnected records that actor disconnected the OAuth provider.
func (a *Auditor) OAuthDisconnected(ctx context.Context, actor otelaudit.Actor, provider string, details any) {
	a.oauth(ctx, otelaudit.ActionOAuthDisconnected, actor, provider, otelaudit.Success, details)
}

// OAuthDisconnectFailed records that disconnecting the OAuth provider failed
// (revoking the grant at the provider failed, say), as oauth_disconnected
// with a failure outcome.
func (a *Auditor) OAuthDisconnectFailed(ctx context.Context, actor otelaudit.Actor, provider, errorType string, details any) {
	a.oauth(ctx, otelaudit.ActionOAuthDisconnected, actor, provider, otelaudit.Failure(errorType), details)
}

func (a *Auditor) oauth(ctx context.Context, action otelaudit.Action, actor otelaudit.Actor, provider string, outcome otelaudit.Outcome, details any) {
	a.Record(ctx, otelaudit.Event{
		Action: action, Actor: actor, Outcome: outcome,
		Resource: otelaudit.Resource{Type: ResourceTypeOAuthProvider, ID: provider},
		Details:  otelaudit.Value(details),
	})
}

// SubscriptionCreated records that actor created subscription subscriptionID
// (plan, price and the like go in details).
func (a *Auditor) SubscriptionCreated(ctx context.Context, actor otelaudit.Actor, subscriptionID string, details any) {
	a.subscription(ctx, otelaudit.ActionSubscriptionCreated, actor, subscriptionID, otelaudit.Success, details)
}

// SubscriptionCreateFailed records that creating a subscription failed (a
// declined payment, say), as subscription_created with a failure outcome.
// subscriptionID may be empty when none was created.
func (a *Auditor) SubscriptionCreateFailed(ctx context.Context, actor otelaudit.Actor, subscriptionID, errorType string, details any) {
	a.subscription(ctx, otelaudit.ActionSubscriptionCreated, actor, subscriptionID, otelaudit.Failure(errorType), details)
}

// SubscriptionCancelled records that actor cancelled subscription
// subscriptionID.
func (a *Auditor) SubscriptionCancelled(ctx context.Context, actor otelaudit.Actor, subscriptionID string, details any) {
	a.subscription(ctx, otelaudit.ActionSubscriptionCancelled, actor, subscriptionID, otelaudit.Success, details)
}

// SubscriptionCancelFailed records that cancelling subscription
// subscriptionID failed, as subscription_cancelled with a failure outcome.
func (a *Auditor) SubscriptionCancelFailed(ctx context.Context, actor otelaudit.Actor, subscriptionID, errorType string, details any) {
	a.subscription(ctx, otelaudit.ActionSubscriptionCancelled, actor, subscriptionID, otelaudit.Failure(errorType), details)
}

func (a *Auditor) subscription(ctx context.Context, action otelaudit.Action, actor otelaudit.Actor, id string, outcome otelaudit.Outcome, details any) {
	a.Record(ctx, otelaudit.Event{
		Action: action, Actor: actor, Outcome: outcome,
		Resource: otelaudit.Resource{Type: ResourceTypeSubscription, ID: id},
		Details:  otelaudit.Value(details),
	})
}

// AdminAction records that admin acted on target (a user, a workspace...),
// with what was done in details.
func (a *Auditor) AdminAction(ctx context.Context, admin otelaudit.Actor, target otelaudit.Resource, details any) {
	a.Record(ctx, otelaudit.Event{
		Action: otelaudit.ActionAdminAction, Actor: admin,
		Resource: target, Details: otelaudit.Value(details),
	})
}

// AdminActionFailed records that admin's action on target failed or was
// refused, as admin_action with a failure outcome.
func (a *Auditor) AdminActionFailed(ctx context.Context, admin otelaudit.Actor, target otelaudit.Resource, errorType string, details any) {
	a.Record(ctx, otelaudit.Event{
		Action: otelaudit.ActionAdminAction, Actor: admin, Outcome: otelaudit.Failure(errorType),
		Resource: target, Details: otelaudit.Value(details),
	})
}
