"""The baseline: the schema the hand-written ladder's last step (``PRAGMA user_version`` 9) made.

A SQLite database from before Alembic is brought to step 9 by that ladder and stamped here
(``storage.migrations``); the types are the portable ones (64-bit Telegram ids, text timestamps).

Revision ID: 0001
Revises: 
"""

import sqlalchemy as sa
from alembic import op

from storage.schema import utc_now

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('chat_settings',
    sa.Column('chat_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('mode', sa.Text(), sa.CheckConstraint("mode IN ('owner', 'vote')"), server_default='owner', nullable=False),
    sa.Column('changed_by', sa.BigInteger(), nullable=True),
    sa.Column('changed_at', sa.Text(), server_default=utc_now(), nullable=False),
    sa.Column('delivery', sa.Text(), server_default='choose', nullable=False),
    sa.PrimaryKeyConstraint('chat_id')
    )
    op.create_table('clips',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_sha256', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), sa.CheckConstraint("kind IN ('video', 'demo')"), nullable=False),
    sa.Column('style', sa.Text(), nullable=True),
    sa.Column('duration', sa.Float(), nullable=False),
    sa.Column('fps', sa.Float(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('tempo', sa.Float(), nullable=False),
    sa.Column('video_file', sa.Text(), nullable=False),
    sa.Column('poses_file', sa.Text(), nullable=False),
    sa.Column('pose_source', sa.Text(), sa.CheckConstraint("pose_source IN ('mediapipe', 'generator')"), nullable=False),
    sa.Column('detection_rate', sa.Float(), nullable=False),
    sa.Column('added_at', sa.Text(), server_default=utc_now(), nullable=False),
    sa.Column('descriptor_tag', sa.Text(), server_default='default-r1', nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('origin_sha256', sa.Text(), nullable=True),
    sa.Column('origin_start', sa.Float(), nullable=True),
    sa.Column('origin_end', sa.Float(), nullable=True),
    sa.Column('performer', sa.Text(), nullable=True),
    sa.Column('licence', sa.Text(), nullable=True),
    sa.Column('source_date', sa.Text(), nullable=True),
    sa.Column('style_guessed', sa.Integer(), server_default='0', nullable=False),
    sa.Column('removed_at', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source_sha256')
    )
    with op.batch_alter_table('clips', schema=None) as batch_op:
        batch_op.create_index('clips_origin', ['origin_sha256'], unique=False)

    op.create_table('file_cache',
    sa.Column('sha256', sa.Text(), nullable=False),
    sa.Column('file_id', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Text(), server_default=utc_now(), nullable=False),
    sa.PrimaryKeyConstraint('sha256')
    )
    op.create_table('meta',
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('sessions',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('chat_type', sa.Text(), nullable=False),
    sa.Column('owner_id', sa.BigInteger(), nullable=False),
    sa.Column('owner_name', sa.Text(), nullable=False),
    sa.Column('language', sa.Text(), server_default='en', nullable=False),
    sa.Column('mode', sa.Text(), sa.CheckConstraint("mode IN ('owner', 'vote')"), server_default='owner', nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('song_name', sa.Text(), nullable=False),
    sa.Column('song_file_id', sa.Text(), nullable=True),
    sa.Column('song_unique_id', sa.Text(), nullable=True),
    sa.Column('song_path', sa.Text(), nullable=True),
    sa.Column('song_duration', sa.Float(), nullable=True),
    sa.Column('source_message_id', sa.BigInteger(), nullable=True),
    sa.Column('progress_message_id', sa.BigInteger(), nullable=True),
    sa.Column('analysis', sa.Text(), nullable=True),
    sa.Column('descriptors', sa.LargeBinary(), nullable=True),
    sa.Column('n_segments', sa.Integer(), nullable=True),
    sa.Column('current_segment', sa.Integer(), server_default='0', nullable=False),
    sa.Column('render_mode', sa.Text(), server_default='clips', nullable=False),
    sa.Column('result_message_id', sa.BigInteger(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.Text(), server_default=utc_now(), nullable=False),
    sa.Column('updated_at', sa.Text(), server_default=utc_now(), nullable=False),
    sa.Column('finished_at', sa.Text(), nullable=True),
    sa.Column('descriptor_tag', sa.Text(), server_default='default-r1', nullable=False),
    sa.Column('delivery', sa.Text(), server_default='choose', nullable=False),
    sa.Column('delivery_message_id', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_index('sessions_chat', ['chat_id', 'status'], unique=False)
        batch_op.create_index('sessions_owner', ['owner_id', 'status'], unique=False)

    op.create_table('updates',
    sa.Column('update_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('received_at', sa.Text(), server_default=utc_now(), nullable=False),
    sa.Column('done_at', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('update_id')
    )
    with op.batch_alter_table('updates', schema=None) as batch_op:
        batch_op.create_index('updates_pending', ['done_at', 'update_id'], unique=False)

    op.create_table('buttons',
    sa.Column('token', sa.Text(), nullable=False),
    sa.Column('session_id', sa.Text(), nullable=False),
    sa.Column('idx', sa.Integer(), nullable=True),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.Text(), server_default=utc_now(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token')
    )
    with op.batch_alter_table('buttons', schema=None) as batch_op:
        batch_op.create_index('buttons_session', ['session_id', 'idx'], unique=False)

    op.create_table('candidates',
    sa.Column('session_id', sa.Text(), nullable=False),
    sa.Column('idx', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('library_segment_id', sa.Integer(), nullable=False),
    sa.Column('scores', sa.Text(), nullable=False),
    sa.Column('total', sa.Float(), nullable=False),
    sa.Column('stretch', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', 'idx', 'rank')
    )
    op.create_table('dance_versions',
    sa.Column('session_id', sa.Text(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('mode', sa.Text(), nullable=False),
    sa.Column('picks', sa.Text(), nullable=False),
    sa.Column('changed_part', sa.Integer(), nullable=True),
    sa.Column('video_path', sa.Text(), nullable=False),
    sa.Column('video_sha256', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Text(), server_default=utc_now(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', 'number')
    )
    op.create_table('jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('idx', sa.Integer(), nullable=True),
    sa.Column('payload', sa.Text(), server_default='{}', nullable=False),
    sa.Column('status', sa.Text(), server_default='queued', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.Text(), server_default=utc_now(), nullable=False),
    sa.Column('started_at', sa.Text(), nullable=True),
    sa.Column('finished_at', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('jobs_status', ['status', 'id'], unique=False)

    op.create_table('library_segments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clip_id', sa.Integer(), nullable=False),
    sa.Column('idx', sa.Integer(), nullable=False),
    sa.Column('start', sa.Float(), nullable=False),
    sa.Column('end', sa.Float(), nullable=False),
    sa.Column('tempo', sa.Float(), nullable=False),
    sa.Column('beats', sa.Text(), nullable=False),
    sa.Column('loudness_levels', sa.Text(), nullable=False),
    sa.Column('motion_size', sa.Text(), nullable=False),
    sa.Column('motion_levels', sa.Text(), nullable=False),
    sa.Column('descriptor', sa.LargeBinary(), nullable=False),
    sa.Column('start_pose', sa.LargeBinary(), nullable=False),
    sa.Column('start_velocity', sa.LargeBinary(), nullable=False),
    sa.Column('end_pose', sa.LargeBinary(), nullable=False),
    sa.Column('end_velocity', sa.LargeBinary(), nullable=False),
    sa.Column('music_start', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['clip_id'], ['clips.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('clip_id', 'idx')
    )
    with op.batch_alter_table('library_segments', schema=None) as batch_op:
        batch_op.create_index('library_segments_clip', ['clip_id'], unique=False)

    op.create_table('picks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Text(), nullable=False),
    sa.Column('idx', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=True),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('library_segment_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('at', sa.Text(), server_default=utc_now(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Text(), nullable=False),
    sa.Column('mode', sa.Text(), nullable=False),
    sa.Column('video_path', sa.Text(), nullable=False),
    sa.Column('sheet_path', sa.Text(), nullable=True),
    sa.Column('video_sha256', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Text(), server_default=utc_now(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('session_id', 'mode')
    )
    op.create_table('session_segments',
    sa.Column('session_id', sa.Text(), nullable=False),
    sa.Column('idx', sa.Integer(), nullable=False),
    sa.Column('status', sa.Text(), server_default='pending', nullable=False),
    sa.Column('preview_message_id', sa.BigInteger(), nullable=True),
    sa.Column('picked_rank', sa.Integer(), nullable=True),
    sa.Column('picked_segment_id', sa.Integer(), nullable=True),
    sa.Column('picked_by', sa.BigInteger(), nullable=True),
    sa.Column('picked_at', sa.Text(), nullable=True),
    sa.Column('pick_source', sa.Text(), nullable=True),
    sa.Column('vote_deadline', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', 'idx')
    )
    op.create_table('vote_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Text(), nullable=False),
    sa.Column('idx', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('at', sa.Text(), server_default=utc_now(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('votes',
    sa.Column('session_id', sa.Text(), nullable=False),
    sa.Column('idx', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('at', sa.Text(), server_default=utc_now(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', 'idx', 'user_id')
    )


def downgrade() -> None:
    op.drop_table('votes')
    op.drop_table('vote_history')
    op.drop_table('session_segments')
    op.drop_table('results')
    op.drop_table('picks')
    with op.batch_alter_table('library_segments', schema=None) as batch_op:
        batch_op.drop_index('library_segments_clip')

    op.drop_table('library_segments')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('jobs_status')

    op.drop_table('jobs')
    op.drop_table('dance_versions')
    op.drop_table('candidates')
    with op.batch_alter_table('buttons', schema=None) as batch_op:
        batch_op.drop_index('buttons_session')

    op.drop_table('buttons')
    with op.batch_alter_table('updates', schema=None) as batch_op:
        batch_op.drop_index('updates_pending')

    op.drop_table('updates')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index('sessions_owner')
        batch_op.drop_index('sessions_chat')

    op.drop_table('sessions')
    op.drop_table('meta')
    op.drop_table('file_cache')
    with op.batch_alter_table('clips', schema=None) as batch_op:
        batch_op.drop_index('clips_origin')

    op.drop_table('clips')
    op.drop_table('chat_settings')
