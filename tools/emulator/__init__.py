"""up-emulator: a local, stateful emulator of the Microsoft Graph
Universal Print API for upfs tests and demos (standard library only).

Modules: main (CLI, lifetime), server (HTTP transport), app (dispatch),
router (route tables), wire (request/reply/errors), odata (query options,
paging, contexts), auth (tokens, token endpoint), faults, metrics
(request counts, the write log), state (storage and indexes), records
(record builders, job states), render (Graph shapes), schema (types and
enums), profiles (printer models), tenants (seed data), graph_print and
graph_directory (Graph read handlers), printing (job create,
createUploadSession, start, cancel, abort), sharing (share
create/update/delete, access-list $ref add/remove), uploads (upload
sessions, the upload URLs, documents on disk), admin (printer
registration, update, restoreFactoryDefaults and delete; connector and
settings updates), downloads (document $value and the download URLs),
reports (the usage reports and archived-job functions under /reports),
pulltasks (pull printing: task definitions, tasks, triggers, job update
and redirect), control (test-only /_emulator routes)."""
