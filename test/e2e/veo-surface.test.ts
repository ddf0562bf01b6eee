import { describeSurface } from './veo-surface';

describeSurface('kie');
