import type { Metadata } from 'next';
import type { ReactNode } from 'react';
import './globals.css';
import { DashboardNav } from './_dashboard/dashboard-nav.tsx';

/** Document metadata shared by every page. */
export const metadata: Metadata = {
  title: 'crowdtrain',
  description: 'Train TensorFlow.js models on a fleet of browser tabs and headless workers.',
  // Static assets in public/: the app icon and the web app manifest (name, icon, colours when a tab is installed).
  icons: { icon: { url: '/icon.svg', type: 'image/svg+xml' } },
  manifest: '/manifest.webmanifest',
};

/** The root layout: html/body with the app's base styles (system fonts; no web fonts are fetched). */
export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body className="min-h-screen bg-slate-100 font-sans text-slate-900 antialiased">
        <DashboardNav />
        {children}
      </body>
    </html>
  );
}
