-- Study materials (seed 003, phase 9; ADR 0030): the uploaded file (bytes kept here, at most
-- 2 MiB each), its processing state and progress, and its chunks with a full-text vector and,
-- when a model is configured, an embedding.
CREATE TABLE materials (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    title text NOT NULL,
    filename text NOT NULL,
    content_type text NOT NULL,
    size_bytes bigint NOT NULL,
    content bytea NOT NULL CHECK (octet_length(content) <= 2097152),
    -- pending → processing → ready | failed
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'processing', 'ready', 'failed')),
    error text NOT NULL DEFAULT '',
    text_chars bigint NOT NULL DEFAULT 0,
    chunks_done integer NOT NULL DEFAULT 0,
    chunks_total integer NOT NULL DEFAULT 0,
    -- The model the chunks were embedded with; '' when they carry no embeddings.
    embedding_model text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX materials_user ON materials (user_id, created_at DESC, id DESC);

CREATE TABLE material_chunks (
    material_id uuid NOT NULL REFERENCES materials (id) ON DELETE CASCADE,
    idx integer NOT NULL,
    text text NOT NULL,
    -- English stemming and stop words (queries use the same configuration).
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    -- L2-normalised (so cosine similarity is the dot product); NULL until embedded.
    embedding real[],
    embedding_model text NOT NULL DEFAULT '',
    PRIMARY KEY (material_id, idx)
);
CREATE INDEX material_chunks_tsv ON material_chunks USING gin (tsv);
