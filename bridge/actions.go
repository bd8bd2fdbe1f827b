package bridge

import (
	"context"

	"go.opentelemetry.io/otel/attribute"

	"github.com/otelaudit/otelaudit"
)

// Resource types the convenience methods record.
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

// Logout records a logout of actor.
func (a *Auditor) Logout(ctx context.Context, actor otelaudit.Actor) {
	a.Record(ctx, otelaudit.Event{Action: otelaudit.ActionLogout, Actor: actor})
}

// DataExportRequested records that actor asked for an export of their data
// (a GDPR access request, say). exportID identifies the export job.
func (a *Auditor) DataExportRequested(ctx context.Context, actor otelaudit.Actor, exportID string, details attribute.Value) {
	a.Record(ctx, otelaudit.Event{
		Action: otelaudit.ActionDataExportRequested, Actor: actor,
		Resource: otelaudit.Resource{Type: ResourceTypeDataExport, ID: exportID}, Details: details,
	})
}

// DataExportCompleted records that the export exportID for actor finished.
func (a *Auditor) DataExportCompleted(ctx context.Context, actor otelaudit.Actor, exportID string, details attribute.Value) {
	a.Record(ctx, otelaudit.Event{
		Action: otelaudit.ActionDataExportCompleted, Actor: actor,
		Resource: otelaudit.Resource{Type: ResourceTypeDataExport, ID: exportID}, Details: details,
	})
}

// DataDeletionRequested records that actor asked for their data to be
// deleted. deletionID identifies the deletion job.
func (a *Auditor) DataDeletionRequested(ctx context.Context, actor otelaudit.Actor, deletionID string, details attribute.Value) {
	a.Record(ctx, otelaudit.Event{
		Action: otelaudit.ActionDataDeleteRequested, Actor: actor,
		Resource: otelaudit.Resource{Type: ResourceTypeDataDeletion, ID: deletionID}, Details: details,
	})
}

// DataDeletionCompleted records that the deletion deletionID finished.
func (a *Auditor) DataDeletionCompleted(ctx context.Context, actor otelaudit.Actor, deletionID string, details attribute.Value) {
	a.Record(ctx, otelaudit.Event{
		Action: otelaudit.ActionDataDeleteCompleted, Actor: actor,
		Resource: otelaudit.Resource{Type: ResourceTypeDataDeletion, ID: deletionID}, Details: details,
	})
}

// SettingsChange records that actor changed setting from previous to next.
// Build the values with attribute constructors or [otelaudit.Value].
func (a *Auditor) SettingsChange(ctx context.Context, actor otelaudit.Actor, setting otelaudit.Resource, previous, next attribute.Value) {
	a.Record(ctx, otelaudit.Event{
		Action: otelaudit.ActionSettingsChanged, Actor: actor,
		Resource: setting, Previous: previous, New: next,
	})
}

// OAuthConnected records that actor connected the OAuth provider ("github").
func (a *Auditor) OAuthConnected(ctx context.Context, actor otelaudit.Actor, provider string) {
	a.Record(ctx, otelaudit.Event{
		Action: otelaudit.ActionOAuthConnected, Actor: actor,
		Resource: otelaudit.Resource{Type: ResourceTypeOAuthProvider, ID: provider},
	})
}

// OAuthDisconnected records that actor disconnected the OAuth provider.
func (a *Auditor) OAuthDisconnected(ctx context.Context, actor otelaudit.Actor, provider string) {
	a.Record(ctx, otelaudit.Event{
		Action: otelaudit.ActionOAuthDisconnected, Actor: actor,
		Resource: otelaudit.Resource{Type: ResourceTypeOAuthProvider, ID: provider},
	})
}

// SubscriptionCreated records that actor created subscription subscriptionID
// (plan, price and the like go in details).
func (a *Auditor) SubscriptionCreated(ctx context.Context, actor otelaudit.Actor, subscriptionID string, details attribute.Value) {
	a.Record(ctx, otelaudit.Event{
		Action: otelaudit.ActionSubscriptionCreated, Actor: actor,
		Resource: otelaudit.Resource{Type: ResourceTypeSubscription, ID: subscriptionID}, Details: details,
	})
}

// SubscriptionCancelled records that actor cancelled subscription
// subscriptionID.
func (a *Auditor) SubscriptionCancelled(ctx context.Context, actor otelaudit.Actor, subscriptionID string, details attribute.Value) {
	a.Record(ctx, otelaudit.Event{
		Action: otelaudit.ActionSubscriptionCancelled, Actor: actor,
		Resource: otelaudit.Resource{Type: ResourceTypeSubscription, ID: subscriptionID}, Details: details,
	})
}

// AdminAction records that admin acted on target (a user, a workspace...),
// with what was done in details.
func (a *Auditor) AdminAction(ctx context.Context, admin otelaudit.Actor, target otelaudit.Resource, details attribute.Value) {
	a.Record(ctx, otelaudit.Event{
		Action: otelaudit.ActionAdminAction, Actor: admin,
		Resource: target, Details: details,
	})
}
