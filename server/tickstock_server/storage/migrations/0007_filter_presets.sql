-- Named event-stream filters of each user (EventService.SaveFilterPreset). The filter is the unresolved
-- FilterSpec as JSON: universes and watchlists stay names, so a preset follows their later changes.
CREATE TABLE filter_presets (
    user_name  text  NOT NULL,
    name       text  COLLATE "C" NOT NULL CHECK (name ~ '^[A-Za-z0-9._-]{1,64}$'),
    filter     jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_name, name)
);
