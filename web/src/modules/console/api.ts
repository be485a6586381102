import { api } from '@/lib/api';
import type { AuditEntry, ChannelsView, ConnectionsView, EndSessionsAnswer, HistoryView, PublishAnswer } from './types';

/** The console's REST calls (admins; docs/api.md, "Console"). */
export const consoleApi = {
  channels: () => api.get<ChannelsView>('/api/console/channels'),
  connections: () => api.get<ConnectionsView>('/api/console/connections'),
  history: (channel: string, limit = 20) => api.get<HistoryView>(`/api/console/channels/history?channel=${encodeURIComponent(channel)}&limit=${limit}`),
  publish: (channel: string, message: string) => api.post<PublishAnswer>('/api/console/publish', { channel, message }),
  endSessions: (userId: string) => api.post<EndSessionsAnswer>(`/api/console/users/${encodeURIComponent(userId)}/end-sessions`, {}),
  audit: (limit = 20) => api.get<{ items: AuditEntry[]; nextCursor: string | null }>(`/api/console/audit?limit=${limit}`),
};
