import { describeSurface } from './veo-surface';

describeSurface('gemini');
