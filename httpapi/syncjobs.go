package httpapi

import (
	"net/http"

	"github.com/opakit/opa"
	"github.com/opakit/opa/internal/errclass"
)

// Server sync jobs (ASA "task_settings") and user sync jobs ("user_sync_task_settings"),
// docs/wire.md#sync-jobs.
// Creates answer 201 with the job, updates/schedule/state/deactivate/delete 204 with no body
// (what terraform checks, although a seed shows 200 with a body for updates), test requests 201
// with the result.

func connID(r *http.Request) string { return r.PathValue("ad_connection_id") }

func listServerSyncJobs(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	page, err := e.ServerSyncJobs(r.Context(), p, connID(r), pr)
	if err != nil {
		return err
	}
	writePage(w, r, page)
	return nil
}

func createServerSyncJob(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in serverSyncJobBody
	if err := requireBody(r, &in); err != nil {
		return err
	}
	j, err := e.CreateServerSyncJob(r.Context(), p, connID(r), opa.ServerSyncJobInput(in))
	if err != nil {
		return err
	}
	encode(w, http.StatusCreated, j)
	return nil
}

func getServerSyncJob(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	j, err := e.ServerSyncJob(r.Context(), p, connID(r), r.PathValue("task_settings_id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, j)
	return nil
}

func updateServerSyncJob(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in serverSyncJobBody
	if err := requireBody(r, &in); err != nil {
		return err
	}
	if _, err := e.UpdateServerSyncJob(r.Context(), p, connID(r), r.PathValue("task_settings_id"), opa.ServerSyncJobInput(in)); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func deleteServerSyncJob(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	if err := e.DeleteServerSyncJob(r.Context(), p, connID(r), r.PathValue("task_settings_id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func deactivateServerSyncJob(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	if err := e.DeactivateServerSyncJob(r.Context(), p, connID(r), r.PathValue("task_settings_id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func scheduleServerSyncJob(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var s scheduleBody
	if err := requireBody(r, &s); err != nil {
		return err
	}
	if err := e.ScheduleServerSyncJob(r.Context(), p, connID(r), r.PathValue("task_settings_id"), opa.Schedule(s)); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func listServerSyncResults(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	page, err := e.ServerSyncResults(r.Context(), p, connID(r), r.PathValue("task_settings_id"), pr)
	if err != nil {
		return err
	}
	writePage(w, r, page)
	return nil
}

func getServerSyncResult(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	res, err := e.ServerSyncResult(r.Context(), p, connID(r), r.PathValue("task_settings_id"), r.PathValue("result_id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, res)
	return nil
}

func testServerSyncJob(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	res, err := e.RunServerSyncTest(r.Context(), p, connID(r), r.PathValue("task_settings_id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusCreated, res)
	return nil
}

func listUserSyncJobs(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	page, err := e.UserSyncJobs(r.Context(), p, connID(r), r.URL.Query().Get("status"), pr)
	if err != nil {
		return err
	}
	writePage(w, r, page)
	return nil
}

func createUserSyncJob(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in userSyncJobBody
	if err := requireBody(r, &in); err != nil {
		return err
	}
	j, err := e.CreateUserSyncJob(r.Context(), p, connID(r), opa.UserSyncJobInput(in))
	if err != nil {
		return err
	}
	encode(w, http.StatusCreated, j)
	return nil
}

func getUserSyncJob(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	j, err := e.UserSyncJob(r.Context(), p, connID(r), r.PathValue("user_sync_task_settings_id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, j)
	return nil
}

func updateUserSyncJob(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in userSyncJobBody
	if err := requireBody(r, &in); err != nil {
		return err
	}
	if _, err := e.UpdateUserSyncJob(r.Context(), p, connID(r), r.PathValue("user_sync_task_settings_id"), opa.UserSyncJobInput(in)); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func deleteUserSyncJob(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	if err := e.DeleteUserSyncJob(r.Context(), p, connID(r), r.PathValue("user_sync_task_settings_id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func scheduleUserSyncJob(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var s scheduleBody
	if err := requireBody(r, &s); err != nil {
		return err
	}
	if err := e.ScheduleUserSyncJob(r.Context(), p, connID(r), r.PathValue("user_sync_task_settings_id"), opa.Schedule(s)); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// userSyncState is the body of PUT/POST …/user_sync_task_settings/{id}/state.
type userSyncState struct {
	IsActive *bool `json:"is_active"`
}

func setUserSyncJobState(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var s userSyncState
	if err := requireBody(r, &s); err != nil {
		return err
	}
	if s.IsActive == nil {
		return errclass.Mark(errclass.Invalid, "is_active is required")
	}
	if err := e.SetUserSyncJobState(r.Context(), p, connID(r), r.PathValue("user_sync_task_settings_id"), *s.IsActive); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func listUserSyncResults(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	page, err := e.UserSyncResults(r.Context(), p, connID(r), r.PathValue("user_sync_task_settings_id"), pr)
	if err != nil {
		return err
	}
	writePage(w, r, page)
	return nil
}

func getUserSyncResult(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	res, err := e.UserSyncResult(r.Context(), p, connID(r), r.PathValue("user_sync_task_settings_id"), r.PathValue("result_id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, res)
	return nil
}

func testUserSyncJob(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	res, err := e.RunUserSyncTest(r.Context(), p, connID(r), r.PathValue("user_sync_task_settings_id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusCreated, res)
	return nil
}

// Force sync and sync status (docs/wire.md#accounts).

// forceSync answers 204 also when the directory could not be reached (no agent, or it timed
// out): the engine has recorded the run as failed (SYNC_FAILED, a result), and the documented
// statuses of the operation are 204, 401, 404 and 409 only (docs/wire.md#accounts).
func forceSync(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	if err := e.ForceSync(r.Context(), p, connID(r)); err != nil {
		if c := opa.ErrorClass(err); c != opa.ErrUnavailable && c != opa.ErrTimeout {
			return err
		}
	}
	noContent(w)
	return nil
}

// syncStatus answers a bare JSON string such as "SYNC_COMPLETED", as the SDK decodes it.
func syncStatus(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	s, err := e.SyncStatus(r.Context(), p, connID(r))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, s)
	return nil
}

// modifyDirectoryGroup is POST /api/v1/directories/{appInstanceId}/groups/modify: 200 with no
// body on success.
func modifyDirectoryGroup(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var a opa.AgentAction
	if err := requireBody(r, &a); err != nil {
		return err
	}
	if err := e.ModifyDirectoryGroup(r.Context(), p, r.PathValue("appInstanceId"), a); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
